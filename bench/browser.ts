/**
 * Opens a report in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; no
 * browser download) and measures how long until every Plotly chart has drawn. Shared by the browser
 * test and the benchmark.
 */
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    viewport: { width: 1400, height: 900 },
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface OpenedReport {
  readonly page: Page;
  /** From navigation until every `div.plot` holds Plotly's SVG. */
  readonly openMs: number;
  /** Until the page's own script starts (HTML + plotly.js parse), from its performance marks. */
  readonly scriptStartMs: number;
  readonly drawMs: number;
  readonly plotIds: readonly string[];
  /** Console errors and uncaught page errors. */
  readonly errors: string[];
  /** Requests to anything but file: and data: URLs (a self-contained report makes none). */
  readonly requests: string[];
}

export async function openReport(context: BrowserContext, file: string): Promise<OpenedReport> {
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
  });
  const t0 = performance.now();
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  const plotIds = await page.$$eval('div.plot', (divs) => divs.map((d) => d.id));
  await page.waitForFunction(() => [...document.querySelectorAll('div.plot')].every((d) => d.querySelector('.main-svg')), undefined, { timeout: 60_000 });
  const openMs = performance.now() - t0;
  const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])));
  const scriptStartMs = marks['report-draw-start'] ?? Number.NaN;
  const drawMs = (marks['report-draw-end'] ?? Number.NaN) - scriptStartMs;
  return { page, openMs, scriptStartMs, drawMs, plotIds, errors, requests };
}
