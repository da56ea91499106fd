/**
 * `npm run bench -- --only ui`: `pipe ui` on a synthetic store (bench/ui-store.ts: a 200-variant
 * sweep plus orphans, 1,000 artifacts in all) in headless Chromium. First page: from navigation
 * until the graph is drawn and the page marks itself interactive (median of 3 warm loads). Sort:
 * the sweep table's sort + render, timed in the page with performance.now (median and max over
 * 20 header clicks across numeric and text columns).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, launchChromium } from './browser.js';
import { ROOT } from './cli.js';
import { buildSyntheticStore } from './ui-store.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** Starts `pipe ui` (the CLI at `cli`) on a free port and resolves with its URL (from its first line of output). */
export function startUiProcess(cli: string, args: readonly string[], cwd: string): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'ui', ...args, '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /(http:\/\/\S+\/)/.exec(out)?.[1];
      if (url) resolve({ url, child });
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`pipe ui exited (${code}) before serving: ${err.slice(-2000)}`)));
  });
}

export async function benchUi(): Promise<Record<string, Json>> {
  if (!existsSync(CHROMIUM)) return { skipped: `${CHROMIUM} not installed` };
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-ui-'));
  const synthetic = await buildSyntheticStore(dir, { variants: 200, artifacts: 1000 });
  const { url, child } = await startUiProcess(join(ROOT, 'bin', 'pipe.js'), ['synthetic.yaml', '--store', synthetic.store], dir);
  const context = await launchChromium(join(dir, 'profile'));
  try {
    const page = await context.newPage();
    const firstPage: number[] = [];
    // The first load warms the browser and the server's file-hash memo; the next three are the figure.
    for (let i = 0; i < 4; i++) {
      // Away and back: a goto that changes only the hash would not load the page again.
      await page.goto('about:blank');
      await page.goto(`${url}#/graph`, { waitUntil: 'load' });
      await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
      const ms = await page.evaluate(() => performance.getEntriesByName('ui-interactive')[0]?.startTime ?? Number.NaN);
      if (i > 0) firstPage.push(ms);
    }
    const drawnNodes = await page.$$eval('svg.graph g.node', (nodes) => nodes.length);
    await page.goto(`${url}#/sweep?file=synthetic.yaml`, { waitUntil: 'load' });
    await page.waitForSelector('#sweep-table tbody tr[data-variant]', { timeout: 60_000 });
    const headers = await page.$$eval('#sweep-table th[data-sort]', (ths) => ths.map((th) => (th as HTMLElement).dataset['sort'] ?? ''));
    const sorts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const column = headers[i % headers.length]!;
      const ms = await page.evaluate((id) => {
        const th = document.querySelector<HTMLElement>(`#sweep-table th[data-sort="${CSS.escape(id)}"]`);
        th?.click();
        return Number(document.body.dataset['sweepSortMs']);
      }, column);
      sorts.push(ms);
    }
    const rows = await page.$$eval('#sweep-table tbody tr[data-variant]', (trs) => trs.length);
    await page.close();
    return {
      store: { artifacts: synthetic.artifacts, sweep_variants: synthetic.variants, graph_stages: synthetic.variants * 2 + 4 },
      // The sweep's 400 stages are drawn as one node per stage group (runner/ui/client/graph-view.ts).
      graph_nodes_drawn: drawnNodes,
      first_page_ms: Math.round(median(firstPage)),
      first_page_ms_runs: firstPage.map((v) => Math.round(v)),
      sort_ms_median: Number(median(sorts).toFixed(1)),
      sort_ms_max: Number(Math.max(...sorts).toFixed(1)),
      sweep_rows_in_dom: rows,
      targets: 'first page < 1000 ms, sort < 200 ms',
      // The machine's load when measured: on 2 shared cores, a busy neighbour moves these figures.
      load_average_1m: Number(loadavg()[0]!.toFixed(1)),
    };
  } finally {
    await context.close();
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
