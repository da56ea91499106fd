/**
 * `pipe ui` in headless Chromium (Debian's /usr/bin/chromium via playwright-core, as the report's
 * browser test), against a store pipelines/tiny.yaml built once per session (sharedTinyStore):
 * every stage's state in the graph; a stage's params and metrics equal `pipe show --json`'s; an
 * edit to the YAML turns the stage and its dependants stale in the open page within 2 s, without a
 * reload; and a live `pipe run` shows progress and ends with every stage fresh. Nothing waits on a
 * sleep: each step waits for the page to reach a condition, with generous timeouts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../../bench/browser.js';
import { startUiProcess } from '../../bench/ui.js';
import { buildSyntheticStore } from '../../bench/ui-store.js';
import { CLI } from '../e2e/rig.js';
import { sharedTinyStore } from '../e2e/tiny-store.js';

const noChromium = !existsSync(CHROMIUM) && !process.env['CI'];
// eslint-disable-next-line no-console -- the skip must be visible in the test output
if (noChromium) console.warn(`skipping the pipe ui browser tests: ${CHROMIUM} not found (apt-get install chromium to run them)`);
const skip = process.env['PIPE_SKIP_BROWSER'] === '1' || noChromium;
const TMP = resolve('test/.tmp');

/** The parts of `pipe status --json` and `pipe show --json` these tests read. */
interface CliJson {
  readonly stages: readonly { readonly stage: string; readonly state: string }[];
  readonly metrics: Record<string, unknown>;
  readonly key_record: { readonly params: Record<string, unknown> };
  readonly key: string;
}

function pipeJson(dir: string, args: readonly string[]): CliJson {
  const result = spawnSync(process.execPath, [CLI, ...args, '--json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, PIPE_JOBS: '2' } });
  return JSON.parse(result.stdout) as CliJson;
}

/** Every drawn node's state, by stage name. */
async function states(page: Page): Promise<Record<string, string>> {
  return page.$$eval('svg.graph g.node', (nodes) => Object.fromEntries(nodes.map((n) => [(n as SVGGElement).dataset['stage'] ?? '', (n as SVGGElement).dataset['state'] ?? ''])));
}

/** Waits until the graph shows exactly these states (stage → state) for the stages named. */
async function waitForStates(page: Page, expected: Record<string, string>, timeout: number): Promise<void> {
  await page.waitForFunction(
    (want) => Object.entries(want).every(([stage, state]) => document.querySelector(`svg.graph g.node[data-stage="${CSS.escape(stage)}"]`)?.getAttribute('data-state') === state),
    expected,
    { timeout, polling: 50 },
  );
}

describe.skipIf(skip)('pipe ui in a browser', () => {
  let context: BrowserContext | undefined;
  let root: string;
  const children: ChildProcess[] = [];
  const errors: string[] = [];
  const requests: string[] = [];

  const open = async (url: string): Promise<Page> => {
    const page = await context!.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    const origin = new URL(url).origin;
    page.on('request', (r) => {
      if (new URL(r.url()).origin !== origin && !r.url().startsWith('data:')) requests.push(r.url());
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    return page;
  };
  const serve = async (args: readonly string[], cwd: string): Promise<string> => {
    const { url, child } = await startUiProcess(CLI, args, cwd);
    children.push(child);
    return url;
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install it (apt-get install -y chromium) or set PIPE_SKIP_BROWSER=1 to skip the browser test`);
    root = await mkdtemp(join(TMP, 'ui-browser-'));
    context = await launchChromium(join(root, 'profile'));
  }, 600_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await context?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('shows every stage of tiny.yaml with its state, and a stage panel with pipe show --json\'s params and metrics', { timeout: 600_000 }, async () => {
    const shared = await sharedTinyStore();
    const url = await serve([shared.pipeline, '--store', shared.store], shared.dir);
    const page = await open(`${url}#/graph`);
    const status = pipeJson(shared.dir, ['status', shared.pipeline, '--store', shared.store]);
    const expected = Object.fromEntries(status.stages.map((s) => [s.stage, s.state]));
    expect(Object.keys(expected)).toHaveLength(33);
    await waitForStates(page, expected, 30_000);
    expect(await states(page)).toEqual(expected);

    await page.click('svg.graph g.node[data-stage="train-cnn"]');
    await page.waitForSelector('#metrics-table tr[data-metric]', { timeout: 30_000 });
    const show = pipeJson(shared.dir, ['show', 'train-cnn', '--pipeline', shared.pipeline, '--store', shared.store]);
    const shown = (selector: string, attribute: string) =>
      page.$$eval(selector, (rows, attr) => Object.fromEntries(rows.map((r) => [r.getAttribute(attr) ?? '', JSON.parse(r.getAttribute('data-json') ?? 'null') as unknown])), attribute);
    expect(await shown('#metrics-table tr[data-metric]', 'data-metric')).toEqual(show.metrics);
    const params = await shown('#params-table tr[data-param]', 'data-param');
    // Every param in the key, with its value (the table also lists params left out of the key at their default).
    for (const [name, value] of Object.entries(show.key_record.params)) expect(params[name], name).toEqual(value);
    expect(await page.textContent('#artifact-key')).toBe(show.key);
    // Previews of a training: its curves are drawn (plotly loads from /vendor, never a CDN).
    await page.waitForSelector('#preview-curves .main-svg', { timeout: 30_000 });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('turns an edited stage and its dependants stale within 2 s without a reload, and follows a live run to all fresh', { timeout: 600_000 }, async () => {
    const shared = await sharedTinyStore();
    // The shared store is read-only: this test edits files and runs, so it works on a copy.
    const dir = join(root, 'copy');
    await cp(shared.dir, dir, { recursive: true });
    const tiny = join(dir, 'tiny.yaml');
    await copyFile(shared.pipeline, tiny);
    // A cheaper pipeline for the live run: tiny's data stages (cached) and one short training.
    await writeFile(
      join(dir, 'live.yaml'),
      `name: live
stages:
  load: { kind: load, params: { train_limit: 600, test_limit: 200 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split-flat: { kind: split, inputs: { data: flatten }, params: { validation: 0.2 } }
  train-mlp: { kind: train, inputs: { data: split-flat }, params: { model: mlp, epochs: 4, batch_size: 32, hidden_layers: [64] } }
  evaluate-mlp: { kind: evaluate, inputs: { model: train-mlp, data: split-flat } }
`,
    );
    const url = await serve(['tiny.yaml', 'live.yaml', '--store', '.pipe'], dir);
    const page = await open(`${url}#/graph?file=tiny.yaml`);
    const before = pipeJson(dir, ['status', 'tiny.yaml', '--store', '.pipe']);
    await waitForStates(page, Object.fromEntries(before.stages.map((s) => [s.stage, 'fresh'])), 30_000);
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    // The edit: train-cnn's epochs. It and everything downstream of it must turn stale.
    const text = await readFile(tiny, 'utf8');
    const edited = text.replace('params: { model: cnn, epochs: 3,', 'params: { model: cnn, epochs: 4,');
    expect(edited).not.toBe(text);
    const after = await (async () => {
      await writeFile(join(root, 'edited.yaml'), edited);
      return pipeJson(dir, ['status', join(root, 'edited.yaml'), '--store', '.pipe']);
    })();
    const want = Object.fromEntries(after.stages.map((s) => [s.stage, s.state]));
    expect(Object.entries(want).filter(([, s]) => s === 'stale').map(([n]) => n)).toEqual(expect.arrayContaining(['train-cnn', 'evaluate-cnn', 'explain-cnn', 'robustness-cnn', 'ensemble', 'evaluate-ensemble', 'report']));
    const t0 = Date.now();
    await writeFile(tiny, edited);
    await waitForStates(page, want, 30_000);
    const elapsed = Date.now() - t0;
    // eslint-disable-next-line no-console -- the measured figure is worth seeing in the output
    console.log(`the edit showed in the open page in ${elapsed} ms (target < 2000 ms)`);
    expect(elapsed).toBeLessThan(2000);
    expect(await states(page)).toEqual(want);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);

    // The live run, watched from the same page (a hash change, not a reload).
    await page.evaluate(() => {
      location.hash = '#/graph?file=live.yaml';
    });
    await page.waitForSelector('svg.graph g.node[data-stage="train-mlp"][data-state="never-run"]', { timeout: 30_000 });
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver((records) => {
        for (const r of records) {
          const node = r.target as SVGGElement;
          if (node.dataset['stage']) seen.push(`${node.dataset['stage']}|${node.dataset['state'] ?? ''}|${node.dataset['progress'] ?? ''}`);
        }
      }).observe(document.querySelector('svg.graph')!, { subtree: true, attributes: true, attributeFilter: ['data-state', 'data-progress'] });
    });
    const run = spawn(process.execPath, [CLI, 'run', 'live.yaml', '--store', '.pipe'], { cwd: dir, env: { ...process.env, PIPE_JOBS: '2' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(run);
    let runErr = '';
    run.stderr.on('data', (d: Buffer) => (runErr += d.toString()));
    const exited = new Promise<number | null>((done) => run.on('close', done));
    await waitForStates(page, { load: 'fresh', normalize: 'fresh', flatten: 'fresh', 'split-flat': 'fresh', 'train-mlp': 'fresh', 'evaluate-mlp': 'fresh' }, 300_000);
    expect(await exited, runErr).toBe(0);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(seen.some((s) => /^train-mlp\|running\|0?\.\d+|^train-mlp\|running\|1$/.test(s)), seen.join(' ')).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await page.goto(`${url}#/runs`);
    await page.waitForSelector('#runs-table tr[data-run]', { timeout: 30_000 });
    expect(await page.locator('#runs-table tbody tr').count()).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('shows hostile strings from the store as text, never as markup', { timeout: 120_000 }, async () => {
    const evil = '<img src=x onerror="window.__pwned=1">';
    const synthetic = await buildSyntheticStore(join(root, 'evil'), { variants: 10, artifacts: 30, evil });
    const url = await serve(['synthetic.yaml', '--store', 'store'], synthetic.dir);
    const page = await open(`${url}#/graph?stage=split`);
    await page.waitForSelector('#metrics-table tr[data-metric="note"]', { timeout: 30_000 });
    expect(await page.textContent('#metrics-table tr[data-metric="note"] td:nth-child(2)')).toBe(JSON.stringify(evil));
    expect(await page.locator('#files-table').innerText()).toContain(evil.replace(/\//g, '_'));
    expect(await page.locator('#panel img').count()).toBe(0);
    await page.goto(`${url}#/artifacts`);
    await page.waitForSelector('#artifacts-table tbody tr', { timeout: 30_000 });
    await page.goto(`${url}#/sweep?file=synthetic.yaml&q=${encodeURIComponent(evil)}`);
    await page.waitForSelector('#sweep-filter', { timeout: 30_000 });
    expect(await page.inputValue('#sweep-filter')).toBe(evil);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('#view img').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
