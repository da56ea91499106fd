/** Model comparison: four side-by-side bar charts and a sortable table (one row per evaluation). */
import { baseLayout, esc, num, plotDiv, plotText, table, type Figure, type Section } from './html.js';
import { timingSpan } from './timings.js';
import type { ModelView } from './load.js';

const COLORS = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

function bar(id: string, title: string, views: readonly ModelView[], values: (number | null)[], axis: string, format: string, timingMetric?: string): Figure {
  return {
    id,
    ...(timingMetric ? { timing: { stages: views.map((v) => v.evaluation.stage), metric: timingMetric } } : {}),
    data: [
      {
        type: 'bar',
        x: views.map((v) => plotText(v.label)),
        y: values,
        texttemplate: `%{y:${format}}`,
        textposition: 'auto',
        marker: { color: views.map((_, i) => COLORS[i % COLORS.length]) },
        hovertemplate: `%{x}: %{y:${format}}<extra></extra>`,
      },
    ],
    layout: baseLayout(title, { height: 300, showlegend: false, yaxis: { title: { text: axis } }, xaxis: { type: 'category', tickangle: -20, automargin: true } }),
  };
}

export function comparisonSection(views: readonly ModelView[]): Section {
  const pick = (f: (v: ModelView) => number | null) => views.map(f);
  const figures = [
    bar('fig-compare-accuracy', 'Test accuracy', views, pick((v) => v.report.accuracy), 'accuracy', '.2%'),
    bar('fig-compare-f1', 'Macro F1', views, pick((v) => v.report.macro_avg.f1), 'macro F1', '.4f'),
    // Timings are filled in the page from the published manifests' metrics (timings.ts).
    bar('fig-compare-fit', 'Fit time', views, views.map(() => null), 'seconds', '.1f', 'fit_s'),
    bar('fig-compare-speed', 'Inference speed', views, views.map(() => null), 'images / s', ',.0f', 'images_per_s'),
  ];
  // Best accuracy first by default; headers re-sort in the page (script in page.ts).
  const order = views.map((v, i) => i).sort((a, b) => views[b]!.report.accuracy - views[a]!.report.accuracy || a - b);
  const rows = order.map((i) => {
    const v = views[i]!;
    const r = v.report;
    const epochs = v.training?.metrics['epochs_run'];
    return [
      { text: v.label, html: `<a href="#model-${i}">${esc(v.label)}</a>`, sort: v.label },
      r.model,
      v.evaluation.stage,
      num(r.accuracy),
      num(r.macro_avg.f1),
      num(r.weighted_avg.f1),
      { text: '—', html: timingSpan(v.evaluation.stage, 'fit_s', 2), sort: '', numeric: true },
      { text: '—', html: timingSpan(v.evaluation.stage, 'predict_s', 3), sort: '', numeric: true },
      { text: '—', html: timingSpan(v.evaluation.stage, 'images_per_s', -1), sort: '', numeric: true },
      typeof epochs === 'number' && epochs > 0 ? { text: String(epochs), sort: epochs, numeric: true } : { text: '—', sort: '', numeric: true },
      r.backend ?? (typeof v.evaluation.metrics['backend'] === 'string' ? v.evaluation.metrics['backend'] : '—'),
    ];
  });
  const html = [
    '<div class="grid4">',
    ...figures.map((f) => plotDiv(f.id, 'plot small')),
    '</div>',
    '<p class="muted">Click a column header to sort.</p>',
    table(['name', 'model', 'evaluate stage', 'accuracy', 'macro F1', 'weighted F1', 'fit s', 'predict s', 'images/s', 'epochs', 'backend'], rows, {
      sortable: true,
      id: 'comparison-table',
    }),
  ].join('\n');
  return { id: 'comparison', title: 'Model comparison', html, figures };
}
