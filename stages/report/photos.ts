/**
 * Photos section: per model, a few photo-like renderings with the test image they came from, the
 * 28×28 image the model saw after `pipe predict`'s preprocessing, and its top 3. The PNGs come from
 * the robustness artifact (stages/robustness/examples.ts) and are inlined as data URIs.
 */
import { readFile } from 'node:fs/promises';
import type { ExamplesFile } from '../robustness/format.js';
import type { InputArtifact } from '../types.js';
import { className, esc, pct, type Section } from './html.js';

export interface PhotosView {
  readonly artifact: InputArtifact;
  readonly label: string;
  readonly file: ExamplesFile;
  /** Data URIs per example, in the order of file.examples. */
  readonly images: readonly { readonly original: string; readonly photo: string; readonly seen: string }[];
}

const uri = async (artifact: InputArtifact, file: string) => `data:image/png;base64,${(await readFile(artifact.path(file))).toString('base64')}`;

export async function loadPhotos(artifact: InputArtifact, label: string, file: ExamplesFile): Promise<PhotosView> {
  const images = [];
  for (const e of file.examples) images.push({ original: await uri(artifact, e.files.original), photo: await uri(artifact, e.files.photo), seen: await uri(artifact, e.files.seen) });
  return { artifact, label, file, images };
}

const SHOW = 84;

export function photosSection(views: readonly PhotosView[], classes: readonly string[]): Section {
  const parts = views.map((v) => {
    const cards = v.file.examples.map((e, k) => {
      const src = v.images[k]!;
      const truth = className(classes, e.label);
      const right = e.top[0]?.class === e.label;
      const top = e.top
        .map((t) => `<li class="${t.class === e.label ? 'good' : ''}">${esc(className(classes, t.class))} ${pct(t.probability, 1)}</li>`)
        .join('');
      return (
        `<figure class="photo${right ? '' : ' wrong'}">` +
        `<div><img class="px" src="${src.original}" width="${SHOW}" height="${SHOW}" alt="test image">` +
        `<img src="${src.photo}" height="${SHOW}" alt="photo-like rendering">` +
        `<img class="px" src="${src.seen}" width="${SHOW}" height="${SHOW}" alt="what the model saw"></div>` +
        `<figcaption>#${esc(e.index)} true <b>${esc(truth)}</b> · ${esc(e.background)} ${esc(e.format)} ${esc(e.width)}×${esc(e.height)}` +
        `<ol class="top3">${top}</ol></figcaption></figure>`
      );
    });
    return `<h3>${esc(v.label)} <span class="muted">· stage <code>${esc(v.artifact.stage)}</code></span></h3>\n<div class="photos">${cards.join('\n')}</div>`;
  });
  const html =
    '<p class="muted">Each example: the test image · its photo-like rendering (a thumbnail) · the 28×28 image the model saw after preprocessing; then the top 3 classes (the true class in green).</p>\n' +
    parts.join('\n');
  return { id: 'photos', title: 'Photos', html, figures: [] };
}
