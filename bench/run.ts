/**
 * `npm run bench`: measures what the README and the issues quote, on this machine, and writes
 * bench/results.json. Sections (all by default; `--only a,b`):
 *   runner     quick.yaml cold and no-op runs; two CPU-heavy stages with --jobs 2 vs --jobs 1
 *   kernels    wasm training throughput of the seed CNN and ResNet (images/s), per-kernel rates, the
 *              wasm GEMM ceiling (GFLOP/s), and PyTorch on the same steps and kernels (python3-torch)
 *   full       pipelines/full-comparison.yaml from an empty store: wall time, and per model
 *              test accuracy, fit and predict time, training images/s (54k train / 6k validation)
 *   classical  SVM / random forest / KNN fitted on all 60,000 training images (issue 4's protocol)
 *   report     size and open time in headless Chromium of the quick and full reports
 *   workers    sweep-cnn.yaml through BullMQ with 1 vs 2 `pipe worker` processes (needs redis-server)
 *   cli        whole-process medians of `pipe --help`, and `pipe status` / a no-op `pipe run` of
 *              full-comparison.yaml on a warm store: the `full` section's, or `--store DIR`
 *              (a store full-comparison.yaml ran in); without either it runs the pipeline first
 *   ui         `pipe ui` in headless Chromium on a synthetic store (1,000 artifacts, a 200-variant
 *              sweep; nothing trained): first page interactive, and the sweep table's sort + render
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchClassical } from './classical.js';
import { pipeJson, ranStages, ROOT, runPipe, scratch } from './cli.js';
import { writeBenchmarksPage } from './docs.js';
import { benchKernels, wasmGemmGflops } from './kernels.js';
import { benchRunner } from './runner.js';
import { benchStartup } from './startup.js';
import { benchWorkers } from './workers.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const MODELS = ['cnn', 'resnet', 'mlp', 'logistic-regression', 'svm', 'random-forest', 'knn'];
const round = (v: number, digits = 2): number => Number(v.toFixed(digits));

function showJson(dir: string, target: string): { metrics: Record<string, Json>; duration_s: number; backend?: string } {
  return pipeJson(dir, ['show', target]);
}

async function benchFull(): Promise<{ summary: Record<string, Json>; models: Record<string, Record<string, Json>>; dir: string }> {
  const dir = scratch('full');
  const file = join(ROOT, 'pipelines', 'full-comparison.yaml');
  console.error('full-comparison.yaml from an empty store (this takes a while)…');
  const run = runPipe(dir, ['run', file]);
  if (run.code !== 0) throw new Error(`full-comparison failed (exit ${run.code}): ${run.stderr.slice(-2000)}`);
  const models: Record<string, Record<string, Json>> = {};
  let backend: string | undefined;
  for (const name of MODELS) {
    const trained = showJson(dir, `train-${name}`);
    const evaluated = showJson(dir, `evaluate-${name}`);
    const m = trained.metrics;
    backend ??= typeof m['backend'] === 'string' ? m['backend'] : undefined;
    models[name] = {
      test_accuracy: evaluated.metrics['accuracy'] ?? null,
      macro_f1: typeof evaluated.metrics['macro_f1'] === 'number' ? round(evaluated.metrics['macro_f1'], 4) : null,
      val_accuracy: m['val_accuracy'] ?? null,
      fit_s: m['fit_s'] ?? null,
      predict_s: evaluated.metrics['predict_s'] ?? null,
      test_images_per_s: evaluated.metrics['images_per_s'] ?? null,
      ...(typeof m['epochs_run'] === 'number' && m['epochs_run'] > 0 ? { epochs: m['epochs_run'], train_images_per_s: m['train_images_per_s'] ?? null } : {}),
      backend: m['backend'] ?? null,
    };
  }
  const ran = ranStages(run.events);
  // Per stage: seconds it ran and the threads it was granted (the scheduler's packing, stage by stage).
  const threads = new Map(run.events.filter((e) => e.type === 'stage-start').map((e) => [String(e['stage']), Number(e['threads'] ?? 1)]));
  const stageSeconds: Record<string, Json> = {};
  for (const e of run.events) {
    if (e.type === 'stage-done') stageSeconds[String(e['stage'])] = { seconds: round(Number(e['seconds']), 1), threads: threads.get(String(e['stage'])) ?? 1 };
  }
  return {
    summary: { wall_s: round(run.seconds, 1), sum_of_stage_s: round(ran.seconds, 1), stages: ran.count, backend: backend ?? null, stage_seconds: stageSeconds },
    models,
    dir,
  };
}

async function benchReport(files: Record<string, string>): Promise<Record<string, Json>> {
  const { CHROMIUM, launchChromium, openReport } = await import('./browser.js');
  const out: Record<string, Json> = {};
  if (!existsSync(CHROMIUM)) return { skipped: `${CHROMIUM} not installed` };
  const context = await launchChromium(mkdtempSync(join(tmpdir(), 'pipe-bench-chromium-')));
  try {
    for (const [name, file] of Object.entries(files)) {
      if (!existsSync(file)) continue;
      // First open warms the browser; the second is the figure.
      await (await openReport(context, file)).page.close();
      const opened = await openReport(context, file);
      out[name] = { bytes: statSync(file).size, open_ms: Math.round(opened.openMs), charts: opened.plotIds.length, console_errors: opened.errors.length };
      await opened.page.close();
    }
  } finally {
    await context.close();
  }
  return out;
}

const CLASSICAL = new Set(['svm', 'random-forest', 'knn']);

/**
 * `models`, one entry per registry name: the networks and logistic regression as trained by
 * full-comparison.yaml (54k train / 6k validation); SVM, random forest and KNN fitted on all 60,000
 * training images, the protocol of their issue (their pipeline figures stay under full_comparison).
 */
function assembleModels(all: Record<string, Json>): Record<string, Json> {
  const full = (all['full_comparison'] as { models?: Record<string, Record<string, Json>> } | undefined)?.models ?? {};
  const classical = (all['classical_60k'] as Record<string, Record<string, Json>> | undefined) ?? {};
  const out: Record<string, Json> = {};
  for (const name of MODELS) {
    const fromPipeline = full[name];
    const from60k = CLASSICAL.has(name) ? classical[name] : undefined;
    if (from60k) out[name] = { ...from60k, protocol: 'fit on all 60000 training images, scored on the 10000 test images' };
    else if (fromPipeline) out[name] = { ...fromPipeline, protocol: 'full-comparison.yaml: 54000 train / 6000 validation, scored on the 10000 test images' };
  }
  return out;
}

const only = (() => {
  const i = process.argv.indexOf('--only');
  return i >= 0 ? new Set((process.argv[i + 1] ?? '').split(',')) : undefined;
})();
const wants = (section: string): boolean => !only || only.has(section);

const resultsFile = join(ROOT, 'bench', 'results.json');
const previous = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, Json>) : {};
const results: Record<string, Json> = {
  ...previous,
  date: new Date().toISOString(),
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  node: process.version,
};
// docs/benchmarks.md is rendered from the file just written, at every save, so the two never disagree.
const save = (): void => {
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  writeBenchmarksPage(ROOT);
};
const reports: Record<string, string> = {};
const givenStore = (() => {
  const i = process.argv.indexOf('--store');
  return i >= 0 ? process.argv[i + 1] : undefined;
})();
let fullStore: string | undefined;

if (wants('runner')) {
  console.error('runner…');
  results['runner'] = await benchRunner();
  save();
}
if (wants('kernels')) {
  console.error('kernels (wasm training throughput)…');
  const k = await benchKernels();
  results['kernels_images_per_s'] = Object.fromEntries(Object.entries(k).map(([name, v]) => [name, Math.round(v)]));
  results['wasm_matmul_1024_gflops_1_thread'] = round(await wasmGemmGflops());
  // PyTorch in the same window (Debian's python3-torch), the reference the speed targets are set against.
  // Debian's interpreter: a pyenv or venv `python3` earlier on PATH would not see python3-torch.
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const torch = spawnSync(python, [join(ROOT, 'bench', 'torch_reference.py')], { encoding: 'utf8' });
  if (torch.status === 0) {
    const ref = JSON.parse(torch.stdout) as Record<string, number>;
    /** pipe's rate over PyTorch's, per name that both measured. */
    const ratios = (pairs: Array<[name: string, ours: string, theirs: string]>): Record<string, Json> => {
      const out: Record<string, Json> = {};
      for (const [name, oursKey, theirsKey] of pairs) {
        const [ours, theirs] = [k[oursKey], ref[theirsKey]];
        if (ours !== undefined && theirs) out[name] = round(ours / theirs);
      }
      return out;
    };
    results['torch_reference_images_per_s'] = ref as unknown as Json;
    results['kernels_vs_torch_2_threads'] = ratios(['seed_cnn', 'seed_cnn_batchnorm', 'resnet'].map((net) => [net, `${net}.train`, `${net}.train_2_thread`]));
    // Single kernels, both on one thread: how far XNNPACK on wasm is from PyTorch's own kernels.
    results['single_kernels_vs_torch_1_thread'] = ratios(['conv1.backprop_filter', 'conv2.forward', 'conv2.backprop_input', 'conv2.backprop_filter'].map((name) => [name, name, `${name}_1_thread`]));
  } else {
    results['torch_reference_images_per_s'] = { skipped: `python3 bench/torch_reference.py failed (apt-get install python3-torch): ${(torch.stderr || String(torch.error ?? '')).slice(-300)}` };
    // Ratios from an earlier window would read as this window's: drop them with their reference.
    delete results['kernels_vs_torch_2_threads'];
    delete results['single_kernels_vs_torch_1_thread'];
  }
  save();
}
if (wants('full')) {
  const full = await benchFull();
  results['backend'] = full.summary['backend'] ?? null;
  results['full_comparison'] = { ...full.summary, models: full.models };
  reports['full_comparison'] = join(full.dir, 'reports', 'full-comparison.html');
  fullStore = join(full.dir, '.pipe');
  save();
}
if (wants('classical')) {
  console.error('classical models on all 60,000 training images…');
  results['classical_60k'] = (await benchClassical()) as unknown as Json;
  save();
}
if (wants('report')) {
  const dir = scratch('report');
  const quick = runPipe(dir, ['run', join(ROOT, 'pipelines', 'quick.yaml')]);
  if (quick.code !== 0) throw new Error(`quick pipeline failed: ${quick.stderr}`);
  reports['quick'] = join(dir, 'reports', 'quick.html');
  // Merged, so `--only report` re-measures the quick report and keeps the last full one.
  results['report'] = { ...((previous['report'] as Record<string, Json> | undefined) ?? {}), ...(await benchReport(reports)) };
  save();
}
if (wants('workers')) {
  results['workers'] = await benchWorkers();
  save();
}
if (wants('cli')) {
  let store = givenStore ?? fullStore;
  if (store === undefined) {
    console.error('cli: no warm store given (--store DIR); running full-comparison.yaml first (this takes a while)…');
    store = join((await benchFull()).dir, '.pipe');
  }
  console.error(`cli: whole-process medians on ${store}…`);
  results['cli'] = benchStartup(store);
  save();
}
if (wants('ui')) {
  console.error('ui: pipe ui on a synthetic store of 1,000 artifacts…');
  const { benchUi } = await import('./ui.js');
  results['ui'] = await benchUi();
  save();
}
results['models'] = assembleModels(results);
save();
console.log(JSON.stringify(results, null, 2));
console.error(`written to ${resultsFile}`);
