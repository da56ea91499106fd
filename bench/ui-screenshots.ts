/**
 * The screenshots in docs/ui.md (docs/images/ui-*.png), taken with playwright in headless Chromium:
 * the graph and a stage panel of a tiny.yaml store, and the sweep table and the artifacts view of
 * a synthetic 200-variant store (bench/ui-store.ts).
 *
 *   node dist/bench/ui-screenshots.js [DIR]   DIR: where tiny.yaml ran, holding tiny.yaml and store/
 *                                             (default test/.tmp/shared-tiny-store, the tests' shared store)
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium } from './browser.js';
import { ROOT } from './cli.js';
import { startUiProcess } from './ui.js';
import { buildSyntheticStore } from './ui-store.js';

const CLI = join(ROOT, 'bin', 'pipe.js');
const out = join(ROOT, 'docs', 'images');
const tinyDir = resolve(process.argv[2] ?? join(ROOT, 'test', '.tmp', 'shared-tiny-store'));
const scratch = mkdtempSync(join(tmpdir(), 'pipe-ui-shots-'));
mkdirSync(out, { recursive: true });
const context = await launchChromium(join(scratch, 'profile'));
const children = [];
try {
  const tiny = await startUiProcess(CLI, ['tiny.yaml', '--store', 'store'], tinyDir);
  children.push(tiny.child);
  const page = await context.newPage();
  await page.setViewportSize({ width: 1440, height: 860 });
  await page.goto(`${tiny.url}#/graph`);
  await page.waitForSelector('body[data-ready="1"]');
  await page.screenshot({ path: join(out, 'ui-graph.png') });
  await page.click('svg.graph g.node[data-stage="evaluate-cnn"]');
  await page.waitForSelector('#preview-confusion .main-svg', { timeout: 60_000 });
  await page.screenshot({ path: join(out, 'ui-stage.png') });
  await page.click('svg.graph g.node[data-stage="train-cnn"]');
  await page.waitForSelector('#preview-curves .main-svg', { timeout: 60_000 });
  await page.evaluate(() => document.querySelector('#preview-curves')?.scrollIntoView());
  await page.screenshot({ path: join(out, 'ui-stage-curves.png') });
  await page.goto(`${tiny.url}#/runs`);
  await page.waitForSelector('#runs-table');
  await page.screenshot({ path: join(out, 'ui-runs.png') });

  const synthetic = await buildSyntheticStore(join(scratch, 'synthetic'), { variants: 200, artifacts: 1000 });
  const sweep = await startUiProcess(CLI, ['synthetic.yaml', '--store', 'store'], synthetic.dir);
  children.push(sweep.child);
  await page.goto('about:blank');
  await page.goto(`${sweep.url}#/sweep?file=synthetic.yaml&sort=metric%3Aevaluate.accuracy&desc=1`);
  await page.waitForSelector('#sweep-table tbody tr[data-variant]');
  await page.waitForSelector('#sweep-scatter .main-svg', { timeout: 60_000 });
  const boxes = page.locator('#sweep-table tbody input[data-pick]');
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await page.waitForSelector('#diff-table');
  await page.screenshot({ path: join(out, 'ui-sweep.png'), fullPage: true });
  await page.goto(`${sweep.url}#/artifacts`);
  await page.waitForSelector('#artifacts-table tbody tr');
  await page.screenshot({ path: join(out, 'ui-artifacts.png') });
  await page.goto(`${sweep.url}#/graph`);
  await page.waitForSelector('body[data-ready="1"]');
  await page.click('svg.graph g.node[data-stage="group:train"]');
  await page.waitForSelector('#group-table');
  await page.screenshot({ path: join(out, 'ui-graph-sweep.png') });
  console.log(`screenshots written to ${out}`);
} finally {
  await context.close();
  for (const child of children) child.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
}
