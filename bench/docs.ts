/**
 * docs/benchmarks.md is generated from bench/results.json, so every benchmark figure has one home:
 * `npm run bench` rewrites the page each time it saves the results (run.ts), `npm run bench:docs`
 * rewrites it alone, and test/unit/bench-docs.test.ts fails when the page and the results disagree.
 *
 *   node dist/bench/docs.js        # writes docs/benchmarks.md from bench/results.json
 *
 * Sections the renderer does not know (a new `--only` section) still appear, as a flat table, so a
 * new benchmark never needs an edit here to be published.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './cli.js';

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
export type JsonObject = { readonly [key: string]: Json };

/** Paths relative to the repository root. */
export const RESULTS_FILE = join('bench', 'results.json');
export const PAGE_FILE = join('docs', 'benchmarks.md');

const isObject = (value: Json | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const objectAt = (value: Json | undefined): JsonObject => (isObject(value) ? value : {});
const numberAt = (value: Json | undefined): number | undefined => (typeof value === 'number' ? value : undefined);

/** A figure as results.json holds it (no rounding here: the page must quote the recorded number). */
function cell(value: Json | undefined): string {
  if (value === undefined || value === null) return '–';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Nested objects as `a.b` → value rows, for sections without a dedicated layout. */
function flatRows(value: JsonObject, prefix = ''): string[][] {
  return Object.entries(value).flatMap(([key, member]) => (isObject(member) ? flatRows(member, `${prefix}${key}.`) : [[`${prefix}${key}`, cell(member)]]));
}

function header(results: JsonObject): string {
  return [
    '# Benchmarks',
    '',
    '<!-- Generated from bench/results.json by bench/docs.ts (npm run bench:docs). Do not edit by hand. -->',
    '',
    'Every figure on this page is read from [`bench/results.json`](../bench/results.json), which `npm run bench`',
    'writes on the machine it runs on (`npm run bench -- --only full,kernels` measures only those sections and',
    'keeps the others from earlier runs, so sections may come from different runs; the date below is the last',
    'write). Timings on shared VMs vary between measurement windows: compare figures only within one run.',
    'Dated figures from earlier runs are in [history.md](history.md).',
    '',
    table(['results.json last written', 'cpu', 'cores', 'Node.js', 'backend'], [[cell(results['date']), cell(results['cpu']), cell(results['cores']), cell(results['node']), cell(results['backend'])]]),
  ].join('\n');
}

function fullComparison(full: JsonObject): string {
  const wall = numberAt(full['wall_s']);
  const models = objectAt(full['models']);
  const modelRows = Object.entries(models).map(([name, value]) => {
    const m = objectAt(value);
    return [`\`${name}\``, ...['test_accuracy', 'macro_f1', 'val_accuracy', 'fit_s', 'epochs', 'train_images_per_s', 'predict_s', 'test_images_per_s', 'backend'].map((k) => cell(m[k]))];
  });
  const stages = Object.entries(objectAt(full['stage_seconds']))
    .map(([name, value]) => ({ name, seconds: numberAt(objectAt(value)['seconds']) ?? 0, threads: objectAt(value)['threads'] }))
    .sort((a, b) => b.seconds - a.seconds || a.name.localeCompare(b.name));
  return [
    '## `pipelines/full-comparison.yaml` from an empty store',
    '',
    `Wall time **${cell(full['wall_s'])} s**${wall !== undefined ? ` (${(wall / 60).toFixed(1)} min)` : ''}: ${cell(full['stages'])} stages ran, ` +
      `${cell(full['sum_of_stage_s'])} s of stage time in all (independent stages run side by side), backend ${cell(full['backend'])}.`,
    'Trained on 54,000 images, validated on 6,000, scored on the 10,000 test images.',
    '',
    table(['model', 'test accuracy', 'macro F1', 'validation accuracy', 'fit (s)', 'epochs', 'training images/s', 'predict 10k (s)', 'test images/s', 'backend'], modelRows),
    '',
    'Stages, longest first (threads: what the scheduler granted when the stage started):',
    '',
    table(['stage', 'seconds', 'threads'], stages.map((s) => [`\`${s.name}\``, String(s.seconds), cell(s.threads)])),
  ].join('\n');
}

function classical(section: JsonObject): string {
  return [
    '## SVM, random forest and KNN fitted on all 60,000 training images',
    '',
    'Default params, scored on the 10,000 test images (`bench/classical.ts`; fit includes PCA where the model uses it).',
    'The top-level `models` entry of results.json quotes these three from here and the other models from the full comparison.',
    '',
    table(['model', 'test accuracy', 'fit (s)', 'predict 10k (s)'], Object.entries(section).map(([name, value]) => [`\`${name}\``, ...['test_accuracy', 'fit_s', 'predict_s'].map((k) => cell(objectAt(value)[k]))])),
  ].join('\n');
}

const RUNNER_LABELS: Readonly<Record<string, string>> = {
  quick_cold_s: '`quick.yaml` from an empty store (s)',
  quick_noop_s: '`quick.yaml` again, nothing changed (s)',
  two_inspects_jobs2_wall_s: 'two CPU-heavy `inspect` stages, `--jobs 2`: wall (s)',
  two_inspects_jobs2_sum_of_stage_s: 'the same, `--jobs 2`: sum of stage times (s)',
  two_inspects_jobs1_wall_s: 'the same, `--jobs 1`: wall (s)',
  two_inspects_jobs1_sum_of_stage_s: 'the same, `--jobs 1`: sum of stage times (s)',
};

function runner(section: JsonObject): string {
  return ['## Runner', '', table(['what', 'figure'], Object.entries(section).map(([key, value]) => [RUNNER_LABELS[key] ?? `\`${key}\``, cell(value)]))].join('\n');
}

function kernels(results: JsonObject): string {
  const ours = objectAt(results['kernels_images_per_s']);
  const torch = objectAt(results['torch_reference_images_per_s']);
  const ratios = objectAt(results['kernels_vs_torch_2_threads']);
  const singleRatios = objectAt(results['single_kernels_vs_torch_1_thread']);
  const threads = cell(ours['threads']);
  const networks = Object.keys(ours).filter((k) => k.endsWith('.train')).map((k) => k.slice(0, -'.train'.length));
  const singles = Object.keys(ours).filter((k) => k !== 'threads' && !networks.some((n) => k.startsWith(`${n}.`)));
  const skipped = typeof torch['skipped'] === 'string' ? torch['skipped'] : undefined;
  const lines = [
    '## Training throughput on wasm',
    '',
    `Images/s at batch 128 on synthetic data (\`bench/kernels.ts\`): whole training steps through the training stage's`,
    `data-parallel path (2 batch shards, ${threads} ${threads === '1' ? 'thread' : 'threads'}), and the same step on one thread; PyTorch`,
    `(${torch['torch'] !== undefined ? `version ${cell(torch['torch'])}, ` : ''}\`bench/torch_reference.py\`) on the same networks in the same run.`,
    ...(skipped !== undefined ? ['', `PyTorch was not measured in this run: ${skipped}`] : []),
    '',
    table(
      ['network', `pipe, ${threads} threads`, 'pipe, best step', 'pipe, 1 thread', 'PyTorch, 2 threads', 'PyTorch, 1 thread', 'pipe / PyTorch, 2 threads'],
      networks.map((n) => [`\`${n}\``, cell(ours[`${n}.train`]), cell(ours[`${n}.train_best_step`]), cell(ours[`${n}.train_1_thread`]), cell(torch[`${n}.train_2_thread`]), cell(torch[`${n}.train_1_thread`]), cell(ratios[n])]),
    ),
  ];
  if (singles.length) {
    lines.push(
      '',
      "Single kernels at the seed CNN's shapes, one thread (images/s):",
      '',
      table(['kernel', 'pipe (wasm)', 'PyTorch', 'pipe / PyTorch'], singles.map((k) => [`\`${k}\``, cell(ours[k]), cell(torch[`${k}_1_thread`]), cell(singleRatios[k])])),
    );
  }
  if (results['wasm_matmul_1024_gflops_1_thread'] !== undefined) {
    lines.push('', `wasm's 1024³ matMul on one thread: ${cell(results['wasm_matmul_1024_gflops_1_thread'])} GFLOP/s (the ceiling of the GEMM-based kernels).`);
  }
  return lines.join('\n');
}

function report(section: JsonObject): string {
  return [
    '## HTML report',
    '',
    'Size, and the time until every chart is drawn in headless Chromium (second open; `bench/browser.ts`):',
    '',
    table(['report', 'bytes', 'open (ms)', 'charts', 'console errors'], Object.entries(section).map(([name, value]) => {
      const r = objectAt(value);
      return typeof value === 'string' ? [`\`${name}\``, value, '', '', ''] : [`\`${name}\``, ...['bytes', 'open_ms', 'charts', 'console_errors'].map((k) => cell(r[k]))];
    })),
  ].join('\n');
}

function ui(section: JsonObject, cores: Json | undefined): string {
  if (typeof section['skipped'] === 'string') return ['## `pipe ui`', '', `Skipped: ${section['skipped']}`].join('\n');
  const store = objectAt(section['store']);
  return [
    '## `pipe ui`',
    '',
    `In headless Chromium (\`bench/ui.ts\`), on a synthetic store (\`bench/ui-store.ts\`, nothing trained) of ${cell(store['artifacts'])} artifacts, a ${cell(store['sweep_variants'])}-variant sweep among them (${cell(store['graph_stages'])} stages, drawn as ${cell(section['graph_nodes_drawn'])} nodes: a sweep is one node per stage):`,
    '',
    table(['what', 'figure', 'target'], [
      ['first page interactive (ms, median of 3 warm loads)', `${cell(section['first_page_ms'])} (${cell(section['first_page_ms_runs'])})`, '< 1000'],
      ['sweep table sort + render + layout (ms, median of 20)', cell(section['sort_ms_median']), '< 200'],
      ['the same, slowest of 20 (ms)', cell(section['sort_ms_max']), '< 200'],
      ['sweep rows in the DOM at once', cell(section['sweep_rows_in_dom']), ''],
    ]),
    '',
    `Load average (1 min) while measured: ${cell(section['load_average_1m'])} on ${cell(cores)} cores.`,
  ].join('\n');
}

/** Keys rendered by a dedicated section (or on purpose not at all), in page order. */
const KNOWN = new Set([
  'date', 'cores', 'cpu', 'node', 'backend', 'full_comparison', 'classical_60k', 'runner', 'kernels_images_per_s',
  'torch_reference_images_per_s', 'kernels_vs_torch_2_threads', 'single_kernels_vs_torch_1_thread', 'wasm_matmul_1024_gflops_1_thread', 'report', 'ui',
  // Repeats full_comparison and classical_60k per model (see the classical section).
  'models',
]);

export function renderBenchmarksPage(results: JsonObject): string {
  const sections = [header(results)];
  if (isObject(results['full_comparison'])) sections.push(fullComparison(results['full_comparison']));
  if (isObject(results['classical_60k'])) sections.push(classical(results['classical_60k']));
  if (isObject(results['runner'])) sections.push(runner(results['runner']));
  if (isObject(results['kernels_images_per_s'])) sections.push(kernels(results));
  if (isObject(results['report'])) sections.push(report(results['report']));
  if (isObject(results['ui'])) sections.push(ui(results['ui'], results['cores']));
  for (const [key, value] of Object.entries(results)) {
    if (KNOWN.has(key)) continue;
    sections.push([`## \`${key}\``, '', table(['figure', 'value'], isObject(value) ? flatRows(value) : [[key, cell(value)]])].join('\n'));
  }
  return `${sections.join('\n\n')}\n`;
}

/** Reads `<root>/bench/results.json` and writes `<root>/docs/benchmarks.md`; returns the page's path. */
export function writeBenchmarksPage(root: string): string {
  const results = JSON.parse(readFileSync(join(root, RESULTS_FILE), 'utf8')) as JsonObject;
  const page = join(root, PAGE_FILE);
  writeFileSync(page, renderBenchmarksPage(results));
  return page;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.error(`written ${writeBenchmarksPage(ROOT)}`);
}
