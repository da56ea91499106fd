/** Dataset overview: summary statistics, class distribution, pixel histogram, sample grid. */
import { baseLayout, className, esc, fmt, int, num, plotDiv, plotText, table, type Figure, type Section } from './html.js';
import type { InspectView } from './load.js';
import { grayPng } from './png.js';

const SPLIT_COLORS: Record<string, string> = { train: '#4c78a8', val: '#72b7b2', test: '#f58518' };

function statsTable(view: InspectView): string {
  const rows = Object.entries(view.splits).map(([split, s]) => [
    split,
    { text: int(s.count), sort: s.count, numeric: true },
    `[${(s.shape ?? []).join(', ')}]`,
    s.dtype,
    num(s.min, 3),
    num(s.max, 3),
    num(s.mean, 3),
    num(s.median, 3),
    num(s.std, 3),
  ]);
  return table(['split', 'count', 'shape', 'dtype', 'min', 'max', 'mean', 'median', 'std'], rows);
}

function classFigure(view: InspectView): Figure {
  const names = view.classes.map(plotText);
  const data = Object.entries(view.splits).map(([split, s]) => ({
    type: 'bar',
    name: plotText(split),
    x: names.length ? names : s.class_counts.map((_, i) => String(i)),
    y: s.class_counts,
    marker: { color: SPLIT_COLORS[split] ?? '#888' },
  }));
  return {
    id: 'fig-dataset-classes',
    data,
    layout: baseLayout('Class distribution', { barmode: 'group', yaxis: { title: { text: 'images' } }, xaxis: { type: 'category', tickangle: -30 } }),
  };
}

/** The 256-bin histogram: bins are pixel values 0..255 for uint8 data, else equal-width bins over [min,max]. */
function histogramFigure(view: InspectView): Figure {
  const counts = view.histogram.counts;
  const split = view.splits[view.histogram.split];
  const uint8 = !split || split.dtype === 'uint8';
  const width = !uint8 && split && split.max > split.min ? (split.max - split.min) / counts.length : 1;
  const x = counts.map((_, i) => (uint8 || !split ? i : Number((split.min + (i + 0.5) * width).toPrecision(6))));
  return {
    id: 'fig-dataset-histogram',
    data: [{ type: 'bar', x, y: counts, marker: { color: '#4c78a8', line: { width: 0 } }, name: 'pixels' }],
    layout: baseLayout(`Pixel intensities (${plotText(view.histogram.split)} split)`, {
      bargap: 0,
      xaxis: { title: { text: 'pixel value' } },
      yaxis: { title: { text: 'pixels (log scale)' }, type: 'log' },
    }),
  };
}

/** One strip of sample images per class, as inline PNGs (no plot needed, and crisp when upscaled). */
function sampleGrid(view: InspectView, perClass: number): string {
  const s = view.samples;
  if (!s || perClass <= 0) return '';
  const size = s.height * s.width;
  const byClass = new Map<number, string[]>();
  for (let i = 0; i < s.labels.length; i++) {
    const c = s.labels[i]!;
    const list = byClass.get(c) ?? [];
    if (list.length >= perClass) continue;
    list.push(grayPng(s.images.subarray(i * size, (i + 1) * size), s.width, s.height));
    byClass.set(c, list);
  }
  const rows = [...byClass.keys()]
    .sort((a, b) => a - b)
    .map((c) => {
      const name = className(view.classes, c);
      const imgs = byClass.get(c)!.map((src) => `<img class="px" src="${src}" width="${s.width * 2}" height="${s.height * 2}" alt="${esc(name)}">`).join('');
      return `<div class="sample-row"><span class="sample-label">${esc(name)}</span><span class="sample-imgs">${imgs}</span></div>`;
    });
  return `<h3>Samples per class</h3><div class="samples" id="dataset-samples">${rows.join('\n')}</div>`;
}

export function datasetSection(view: InspectView, samplesPerClass: number): Section {
  const figures = [classFigure(view)];
  if (view.histogram.counts.length) figures.push(histogramFigure(view));
  const train = view.splits['train'];
  const lead = train
    ? `<p>${esc(view.classes.length)} classes; ${Object.entries(view.splits).map(([n, s]) => `${esc(n)}: ${int(s.count)} images`).join(', ')}. Train pixel mean ${fmt(train.mean, 2)}, std ${fmt(train.std, 2)}.</p>`
    : '';
  const html = [
    lead,
    '<h3>Summary statistics</h3>',
    statsTable(view),
    '<div class="grid2">',
    ...figures.map((f) => plotDiv(f.id)),
    '</div>',
    sampleGrid(view, samplesPerClass),
  ].join('\n');
  return { id: 'dataset', title: 'Dataset overview', html, figures };
}
