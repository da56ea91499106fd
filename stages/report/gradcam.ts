/** Grad-CAM section: original / heatmap / overlay triplets and per-class mean maps, as inline PNGs. */
import { className, esc, pct, type Section } from './html.js';
import type { ExplainView } from './load.js';
import { grayPng, heatPng, normalizeMax, overlayPng, toBytes } from './png.js';

/** Pixel size of one 28×28 map on the page (upscaled by CSS, pixelated, so the PNGs stay tiny). */
const SHOW = 84;

function frame(view: ExplainView, file: 'images' | 'heatmaps' | 'classMeans', k: number): { values: ArrayLike<number>; h: number; w: number } | undefined {
  const arr = view[file];
  if (!arr || arr.shape.length !== 3 || k >= arr.shape[0]!) return undefined;
  const h = arr.shape[1]!;
  const w = arr.shape[2]!;
  return { values: arr.data.subarray(k * h * w, (k + 1) * h * w), h, w };
}

function img(src: string, alt: string): string {
  return `<img class="px" src="${src}" width="${SHOW}" height="${SHOW}" alt="${esc(alt)}">`;
}

/**
 * Which examples to show when there are more than `limit`: round-robin over true classes (explain
 * writes them class-major), so a small limit still covers every class; shown in the original order.
 */
export function pickExamples(labels: readonly number[], limit: number): number[] {
  const byClass = new Map<number, number[]>();
  labels.forEach((label, k) => byClass.set(label, [...(byClass.get(label) ?? []), k]));
  const queues = [...byClass.keys()].sort((a, b) => a - b).map((c) => byClass.get(c)!);
  const picked: number[] = [];
  for (let round = 0; picked.length < Math.min(limit, labels.length); round++) {
    for (const q of queues) if (round < q.length && picked.length < limit) picked.push(q[round]!);
  }
  return picked.sort((a, b) => a - b);
}

function triplets(view: ExplainView, classes: readonly string[], limit: number): string {
  const cards: string[] = [];
  for (const k of pickExamples(view.examples.map((e) => e.label), limit)) {
    const e = view.examples[k]!;
    const image = frame(view, 'images', k);
    const heat = frame(view, 'heatmaps', k);
    if (!image || !heat) continue;
    const gray = toBytes(image.values, view.images?.dtype !== 'uint8');
    const heat01 = Float32Array.from(heat.values);
    const label = className(classes, e.label);
    const predicted = className(classes, e.predicted);
    const explained = className(classes, e.class_index_explained);
    cards.push(
      `<figure class="triplet${e.correct ? '' : ' wrong'}">` +
        `<div>${img(grayPng(gray, image.w, image.h), 'original')}${img(heatPng(heat01, heat.w, heat.h), 'heatmap')}${img(overlayPng(gray, heat01, image.w, image.h), 'overlay')}</div>` +
        `<figcaption>#${esc(e.test_index)} true <b>${esc(label)}</b>, predicted <b class="${e.correct ? 'good' : 'bad'}">${esc(predicted)}</b>` +
        `${e.probability !== undefined ? ` (${pct(e.probability, 0)})` : ''}; map for <i>${esc(explained)}</i></figcaption></figure>`,
    );
  }
  if (!cards.length) return '';
  return `<h4>Examples <span class="muted">(original · Grad-CAM · overlay)</span></h4><div class="triplets">${cards.join('\n')}</div>`;
}

function classMeans(view: ExplainView, classes: readonly string[]): string {
  const n = view.classMeans?.shape[0] ?? 0;
  const cards: string[] = [];
  for (let c = 0; c < n; c++) {
    const f = frame(view, 'classMeans', c);
    if (!f) break;
    const name = className(classes, c);
    // Each mean map is scaled to its own maximum: the pattern matters here, not the absolute level.
    cards.push(`<figure class="card">${img(heatPng(normalizeMax(f.values), f.w, f.h), `mean map ${name}`)}<figcaption>${esc(name)}</figcaption></figure>`);
  }
  if (!cards.length) return '';
  return `<h4>Mean Grad-CAM per class <span class="muted">(each scaled to its own maximum)</span></h4><div class="cards">${cards.join('')}</div>`;
}

export function gradcamSection(views: readonly ExplainView[], fallbackClasses: readonly string[], limit: number): Section {
  const parts = views.map((v) => {
    const classes = v.classes ?? fallbackClasses;
    return [
      `<h3>${esc(v.model)} <span class="muted">· layer <code>${esc(v.layer)}</code> · stage <code>${esc(v.artifact.stage)}</code></span></h3>`,
      triplets(v, classes, limit),
      classMeans(v, classes),
    ].join('\n');
  });
  const html = `<p class="muted">Grad-CAM highlights the pixels that raised the score of the explained class (bright = strong evidence).</p>\n${parts.join('\n')}`;
  return { id: 'gradcam', title: 'Grad-CAM', html, figures: [] };
}
