/** Per-model section: training curves, confusion matrix, classification report, confusions, mistakes. */
import { baseLayout, className, esc, fmt, int, num, pct, plotDiv, plotText, table, type Figure, type Section } from './html.js';
import type { ModelView } from './load.js';
import { timingSpan } from './timings.js';
import { grayPng } from './png.js';

/** Accuracy and loss side by side, train and validation on the same axes. */
function curvesFigure(view: ModelView, id: string): Figure | undefined {
  const h = view.history;
  if (!h.length) return undefined;
  const epochs = h.map((r) => r.epoch);
  const series = (key: 'accuracy' | 'loss' | 'val_accuracy' | 'val_loss') => h.map((r) => (typeof r[key] === 'number' ? r[key] : null));
  const hasVal = h.some((r) => typeof r.val_accuracy === 'number' || typeof r.val_loss === 'number');
  const line = (name: string, y: (number | null)[], axis: 1 | 2, color: string, dash: string, legend: boolean) => ({
    type: 'scatter',
    mode: h.length > 30 ? 'lines' : 'lines+markers',
    name,
    legendgroup: name,
    showlegend: legend,
    x: epochs,
    y,
    xaxis: axis === 1 ? 'x' : 'x2',
    yaxis: axis === 1 ? 'y' : 'y2',
    line: { color, dash },
  });
  const data = [line('train', series('accuracy'), 1, '#4c78a8', 'solid', true), line('train', series('loss'), 2, '#4c78a8', 'solid', false)];
  if (hasVal) data.push(line('validation', series('val_accuracy'), 1, '#f58518', 'dot', true), line('validation', series('val_loss'), 2, '#f58518', 'dot', false));
  return {
    id,
    data,
    layout: baseLayout('Training curves', {
      xaxis: { domain: [0, 0.45], title: { text: 'epoch' }, dtick: h.length <= 20 ? 1 : undefined },
      yaxis: { title: { text: 'accuracy' } },
      xaxis2: { domain: [0.55, 1], anchor: 'y2', title: { text: 'epoch' }, dtick: h.length <= 20 ? 1 : undefined },
      yaxis2: { anchor: 'x2', title: { text: 'loss' } },
      legend: { orientation: 'h', y: 1.12, x: 1, xanchor: 'right' },
    }),
  };
}

function confusionFigure(view: ModelView, classes: readonly string[], id: string): Figure {
  const c = view.report.confusion;
  const names = c.map((_, i) => plotText(className(classes, i)));
  // Colour by the row share (so small classes are readable), print the raw counts.
  const shares = c.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (total ? Number((v / total).toFixed(4)) : 0));
  });
  return {
    id,
    data: [
      {
        type: 'heatmap',
        z: shares,
        text: c,
        x: names,
        y: names,
        texttemplate: '%{text}',
        hovertemplate: 'true %{y}<br>predicted %{x}<br>%{text} examples (%{z:.1%} of the class)<extra></extra>',
        // Light → dark blue (Plotly's named 'Blues' runs dark → light).
        colorscale: [[0, '#f7fbff'], [0.5, '#6baed6'], [1, '#08306b']],
        zmin: 0,
        zmax: 1,
        showscale: false,
        xgap: 1,
        ygap: 1,
      },
    ],
    layout: baseLayout('Confusion matrix (rows: true class)', {
      height: 420,
      margin: { l: 60, r: 20, t: 40, b: 60 },
      xaxis: { title: { text: 'predicted' }, type: 'category', tickangle: -40, automargin: true },
      yaxis: { title: { text: 'true' }, type: 'category', autorange: 'reversed', automargin: true },
    }),
  };
}

function reportTable(view: ModelView): string {
  const r = view.report;
  const rows = r.per_class.map((c, i) => [
    { text: c.class ?? String(i), sort: i },
    num(c.precision),
    num(c.recall),
    num(c.f1),
    { text: int(c.support), sort: c.support, numeric: true },
  ]);
  const total = r.macro_avg.support;
  const avg = (name: string, m: ModelView['report']['macro_avg']) => [
    { text: name, html: `<b>${esc(name)}</b>` },
    num(m.precision),
    num(m.recall),
    num(m.f1),
    { text: int(m.support), numeric: true },
  ];
  rows.push(
    [{ text: 'accuracy', html: '<b>accuracy</b>' }, { text: '', numeric: true }, { text: '', numeric: true }, num(r.accuracy), { text: int(total), numeric: true }],
    avg('macro avg', r.macro_avg),
    avg('weighted avg', r.weighted_avg),
  );
  return table(['class', 'precision', 'recall', 'f1-score', 'support'], rows, { cls: 'report' });
}

function confusedTable(view: ModelView, classes: readonly string[], limit: number): string {
  const pairs = view.report.most_confused.slice(0, limit);
  if (!pairs.length) return '<p class="muted">No misclassifications.</p>';
  return table(
    ['true class', 'predicted as', 'count', 'share of true class'],
    pairs.map((p) => [className(classes, p.true), className(classes, p.predicted), { text: int(p.count), numeric: true }, { text: pct(p.rate, 1), numeric: true }]),
  );
}

function mistakes(view: ModelView, classes: readonly string[]): string {
  if (!view.misclassified.length) return view.misclassifiedNote ? `<p class="muted">Misclassified examples: ${esc(view.misclassifiedNote)}.</p>` : '';
  const cards = view.misclassified.map((m) => {
    const src = grayPng(m.image.gray, m.image.width, m.image.height);
    const t = className(classes, m.label);
    const p = className(classes, m.predicted);
    return `<figure class="card"><img class="px" src="${src}" width="84" height="84" alt="test ${m.index}"><figcaption>#${m.index}<br>true <b>${esc(t)}</b><br>pred <b class="bad">${esc(p)}</b>${m.probability ? ` (${pct(m.probability, 0)})` : ''}</figcaption></figure>`;
  });
  return `<h4>Most confident mistakes</h4><div class="cards">${cards.join('')}</div>`;
}

export function modelSection(view: ModelView, index: number, confusedLimit: number): Section {
  const r = view.report;
  const classes = r.classes;
  const id = `model-${index}`;
  const figures: Figure[] = [];
  const curves = curvesFigure(view, `fig-${id}-curves`);
  if (curves) figures.push(curves);
  const confusion = r.confusion.length ? confusionFigure(view, classes, `fig-${id}-confusion`) : undefined;
  if (confusion) figures.push(confusion);
  const ev = view.evaluation;
  const facts = [
    ['accuracy', pct(r.accuracy)],
    ['macro F1', fmt(r.macro_avg.f1)],
    ['fit', { html: timingSpan(ev.stage, 'fit_s', 2, ' s') }],
    ['inference', { html: timingSpan(ev.stage, 'images_per_s', -1, ' images/s') }],
    ['test examples', int(r.n_test)],
    ['backend', r.backend ?? (typeof ev.metrics['backend'] === 'string' ? ev.metrics['backend'] : '—')],
  ]
    .map(([k, v]) => `<div class="kpi"><span>${esc(k)}</span><b>${typeof v === 'object' && v !== null ? v.html : esc(v)}</b></div>`)
    .join('');
  const source = view.training
    ? `trained by <code>${esc(view.training.stage)}</code> (matched by ${esc(view.matchedBy ?? '')})`
    : 'training artifact not given: no curves';
  const curvesNote = view.training && !view.history.length ? '<p class="muted">No training curves: the model is not trained iteratively.</p>' : '';
  const html = [
    `<p class="muted">evaluated by <code>${esc(ev.stage)}</code>; ${source}</p>`,
    `<div class="kpis">${facts}</div>`,
    curves ? plotDiv(curves.id, 'plot wide') : curvesNote,
    '<div class="grid2">',
    confusion ? plotDiv(confusion.id, 'plot tall') : '',
    `<div><h4>Classification report</h4>${reportTable(view)}<h4>Most confused pairs</h4>${confusedTable(view, classes, confusedLimit)}</div>`,
    '</div>',
    mistakes(view, classes),
  ].join('\n');
  return { id, title: `Model: ${view.label}`, html, figures };
}
