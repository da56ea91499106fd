/**
 * Benchmark figures have one home, bench/results.json: docs/benchmarks.md is rendered from it, and
 * the few figures README.md quotes (the Models table's accuracies, the full comparison's wall time)
 * must be the recorded ones, so an edit to either file alone fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PAGE_FILE, renderBenchmarksPage, RESULTS_FILE, type JsonObject } from '../../bench/docs.js';
import { packageRoot } from '../../stages/schema.js';

const root = packageRoot();
const results = JSON.parse(readFileSync(join(root, RESULTS_FILE), 'utf8')) as JsonObject;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

interface Recorded {
  readonly wallSeconds: number;
  readonly models: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

function recorded(all: JsonObject): Recorded {
  const full = all['full_comparison'] as { wall_s?: unknown; models?: Record<string, Record<string, unknown>> } | undefined;
  if (typeof full?.wall_s !== 'number' || !full.models) throw new Error('bench/results.json has no full_comparison.wall_s / models');
  return { wallSeconds: full.wall_s, models: full.models };
}

const cellsOf = (line: string): string[] => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
// Figures, not digits inside names such as L2 or uint8.
const numbersIn = (text: string): number[] => [...text.matchAll(/(?<![\w.])\d+(?:\.\d+)?(?!\w|\.\d)/g)].map((m) => Number(m[0]));

/** The first table under `## Models` that has a "test accuracy" column: model name → its row's cells. */
function modelsTable(text: string): { header: string[]; rows: Map<string, string[]> } {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^## Models\b/.test(l));
  if (start < 0) throw new Error('README.md has no "## Models" section');
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  const section = lines.slice(start + 1, end < 0 ? undefined : end);
  const at = section.findIndex((l) => l.trim().startsWith('|') && cellsOf(l).includes('test accuracy'));
  if (at < 0) throw new Error('README.md\'s Models section has no table with a "test accuracy" column');
  const header = cellsOf(section[at]!);
  const rows = new Map<string, string[]>();
  for (const line of section.slice(at + 2)) {
    if (!line.trim().startsWith('|')) break;
    const cells = cellsOf(line);
    rows.set((cells[0] ?? '').replace(/`/g, ''), cells);
  }
  return { header, rows };
}

/** Every disagreement between the README's quoted figures and the recorded ones (empty: they agree). */
function readmeFigureProblems(text: string, all: JsonObject): string[] {
  const { wallSeconds, models } = recorded(all);
  const problems: string[] = [];
  const { header, rows } = modelsTable(text);
  const column = header.indexOf('test accuracy');
  for (const name of Object.keys(models)) if (!rows.has(name)) problems.push(`Models table: no row for ${name}`);
  for (const [name, cells] of rows) {
    const figures = models[name];
    if (!figures) {
      problems.push(`Models table: ${name} is not a model in bench/results.json`);
      continue;
    }
    const accuracy = Number(cells[column]);
    if (accuracy !== figures['test_accuracy']) problems.push(`Models table: ${name} test accuracy ${cells[column] ?? ''}, recorded ${String(figures['test_accuracy'])}`);
    // Any other figure in the row must be one of that model's recorded ones, too.
    const known = new Set(Object.values(figures).filter((v): v is number => typeof v === 'number'));
    for (const n of numbersIn(cells.slice(1).join(' | '))) if (!known.has(n)) problems.push(`Models table: ${name} quotes ${n}, not a figure of ${name} in bench/results.json`);
  }
  // Minutes in the README are the full comparison's; anything else timed belongs in docs/.
  const minutes = Number((wallSeconds / 60).toFixed(1));
  const quoted = [...text.matchAll(/(\d+(?:\.\d+)?)\s*min\b(?:\s*\((\d+(?:\.\d+)?) s\))?/g)];
  if (!quoted.length) problems.push('README.md quotes no full-comparison time (N min)');
  for (const m of quoted) {
    if (Number(m[1]) !== minutes) problems.push(`README.md says ${m[0]}; the recorded full comparison took ${minutes} min (${wallSeconds} s)`);
    if (m[2] !== undefined && Number(m[2]) !== wallSeconds) problems.push(`README.md says ${m[0]}; recorded ${wallSeconds} s`);
  }
  return problems;
}

describe('benchmark figures', () => {
  it('docs/benchmarks.md is exactly the page rendered from bench/results.json (npm run bench:docs rewrites it)', () => {
    expect(readFileSync(join(root, PAGE_FILE), 'utf8')).toBe(renderBenchmarksPage(results));
  });

  it("README.md's Models table and full-comparison time are the figures bench/results.json records", () => {
    expect(readmeFigureProblems(readme, results)).toEqual([]);
  });

  it('the README check catches one edited figure', () => {
    const { wallSeconds, models } = recorded(results);
    const cnn = String(models['cnn']?.['test_accuracy']);
    const minutes = (wallSeconds / 60).toFixed(1);
    const row = readme.split('\n').find((l) => l.startsWith('| `cnn`'));
    expect(row, 'README Models table row for cnn').toBeDefined();
    const edited = readme.replace(row!, row!.replace(cnn, '0.9999'));
    expect(readmeFigureProblems(edited, results)).toEqual([`Models table: cnn test accuracy 0.9999, recorded ${cnn}`, 'Models table: cnn quotes 0.9999, not a figure of cnn in bench/results.json']);
    expect(readmeFigureProblems(readme.replace(`${minutes} min`, '34 min'), results)).toHaveLength(1);
    expect(readmeFigureProblems(`${readme}\nThe full comparison takes 34 min.\n`, results)).toHaveLength(1);
    const withoutKnn = readme.split('\n').filter((l) => !l.startsWith('| `knn`')).join('\n');
    expect(readmeFigureProblems(withoutKnn, results)).toEqual(['Models table: no row for knn']);
  });

  it('the page shows the recorded figures in tables and carries sections it has no layout for', () => {
    const page = renderBenchmarksPage({ ...results, cli: { help_ms: 123.4, nested: { status_ms: 56 } } });
    expect(page).toContain(`| \`cnn\` | ${String(recorded(results).models['cnn']?.['test_accuracy'])} |`);
    expect(page).toContain('## `cli`');
    expect(page).toContain('| help_ms | 123.4 |');
    expect(page).toContain('| nested.status_ms | 56 |');
  });
});
