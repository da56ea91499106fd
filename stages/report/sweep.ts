/**
 * Sweep section: for every group of evaluations that are variants of one swept stage
 * (`evaluate-cnn[lr=0.001]`, `evaluate-cnn[lr=0.003]`, …), a sortable table of the params that
 * vary against validation and test accuracy, and one scatter chart per varying param. Scatter (SVG)
 * rather than parallel coordinates, which Plotly draws with WebGL: a report must render anywhere.
 */
import { canonicalJson } from '../../artifacts/hash.js';
import type { JsonValue } from '../types.js';
import { baseLayout, esc, num, plotDiv, plotText, table, type CellLike, type Figure, type Section } from './html.js';
import type { ModelView } from './load.js';
import { timingSpan } from './timings.js';

/** Stage name without its variant suffix: `evaluate-cnn[lr=0.1]` → `evaluate-cnn`. */
export function sweepGroup(stage: string): string {
  const open = stage.indexOf('[');
  return open > 0 && stage.endsWith(']') ? stage.slice(0, open) : stage;
}

interface Variant {
  readonly view: ModelView;
  readonly index: number;
  readonly params: Readonly<Record<string, JsonValue>>;
}

/** Training params whose values differ between variants, in name order. */
export function varyingParams(params: ReadonlyArray<Readonly<Record<string, JsonValue>>>): string[] {
  const keys = [...new Set(params.flatMap((p) => Object.keys(p)))].sort();
  return keys.filter((k) => new Set(params.map((p) => canonicalJson(p[k] ?? null))).size > 1);
}

const valAccuracy = (v: Variant): number | null => {
  const value = v.view.training?.metrics['val_accuracy'];
  return typeof value === 'number' ? value : null;
};

function scatter(id: string, group: string, param: string, variants: readonly Variant[]): Figure {
  const xs = variants.map((v) => (typeof v.params[param] === 'number' ? v.params[param] : plotText(canonicalJson(v.params[param] ?? null))));
  const numeric = xs.every((x) => typeof x === 'number');
  const names = variants.map((v) => plotText(v.view.evaluation.stage));
  const trace = (name: string, y: (number | null)[], symbol: string) => ({
    type: 'scatter',
    mode: 'markers',
    name,
    x: xs,
    y,
    text: names,
    marker: { size: 10, symbol },
    hovertemplate: `%{text}<br>${plotText(param)} = %{x}<br>${name} %{y:.4f}<extra></extra>`,
  });
  return {
    id,
    data: [trace('validation accuracy', variants.map(valAccuracy), 'circle'), trace('test accuracy', variants.map((v) => v.view.report.accuracy), 'diamond-open')],
    layout: baseLayout(`${plotText(group)}: accuracy by ${plotText(param)}`, {
      height: 320,
      xaxis: { title: { text: plotText(param) }, ...(numeric ? {} : { type: 'category' }) },
      yaxis: { title: { text: 'accuracy' } },
      legend: { orientation: 'h', y: -0.25 },
    }),
  };
}

/** Null when no evaluation group has two or more variants. */
export function sweepSection(views: readonly ModelView[]): Section | null {
  const groups = new Map<string, Variant[]>();
  views.forEach((view, index) => {
    const group = sweepGroup(view.evaluation.stage);
    if (group === view.evaluation.stage) return;
    const params = view.training?.params ?? {};
    groups.set(group, [...(groups.get(group) ?? []), { view, index, params }]);
  });
  const html: string[] = [];
  const figures: Figure[] = [];
  let g = 0;
  for (const [group, variants] of groups) {
    if (variants.length < 2) continue;
    const varying = varyingParams(variants.map((v) => v.params));
    const best = Math.max(...variants.map((v) => valAccuracy(v) ?? -1));
    const rows = variants.map((v): CellLike[] => [
      { text: v.view.evaluation.stage, html: `<a href="#model-${v.index}">${esc(v.view.evaluation.stage)}</a>${valAccuracy(v) === best && best >= 0 ? ' <span class="muted">(best by validation)</span>' : ''}`, sort: v.view.evaluation.stage },
      ...varying.map((k): CellLike => {
        const value = v.params[k];
        return typeof value === 'number' ? { text: String(value), sort: value, numeric: true } : canonicalJson(value ?? null);
      }),
      num(valAccuracy(v)),
      num(v.view.report.accuracy),
      num(v.view.report.macro_avg.f1),
      { text: '—', html: timingSpan(v.view.evaluation.stage, 'fit_s', 2), sort: '', numeric: true },
    ]);
    html.push(`<h3>${esc(group)} <span class="muted">(${variants.length} variants)</span></h3>`);
    html.push(table(['variant', ...varying, 'val accuracy', 'test accuracy', 'macro F1', 'fit s'], rows, { sortable: true, id: `sweep-table-${g}` }));
    const charts = varying.map((param, p) => scatter(`fig-sweep-${g}-${p}`, group, param, variants));
    if (charts.length) html.push('<div class="grid2">', ...charts.map((f) => plotDiv(f.id, 'plot')), '</div>');
    figures.push(...charts);
    g++;
  }
  if (!g) return null;
  html.unshift('<p class="muted">Variants of swept stages. Choose by validation accuracy; the test column is for reporting only. Click a header to sort.</p>');
  return { id: 'sweep', title: 'Sweep', html: html.join('\n'), figures };
}
