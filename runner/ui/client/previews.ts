/**
 * Previews of an artifact's files, chosen by name: training curves (history.json), the confusion
 * matrix (report.json), the robustness heatmap (robustness.json), sample grids (samples.npy), PNG
 * images (Grad-CAM, robustness examples), .npy shape/dtype/stats, and exec.log.
 */
import type { ArtifactDetail, NpySummary } from '../api-types.js';
import { fileUrl, getJson } from './api.js';
import { html, type Html } from './escape.js';
import { num } from './format.js';
import { decodeNpy, drawGrid } from './npy.js';
import { plot } from './vendor.js';

const MAX_IMAGES = 30;
const MAX_NPY = 8;
const LOG_TAIL = 64 * 1024;

async function json<T>(artifact: ArtifactDetail, name: string): Promise<T> {
  const response = await fetch(fileUrl(artifact.key, name, true));
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

function section(parent: HTMLElement, title: string, id: string): HTMLElement {
  const box = document.createElement('section');
  box.id = id;
  box.innerHTML = html`<h3>${title}</h3>`.text;
  parent.append(box);
  return box;
}

function plotBox(parent: HTMLElement): HTMLElement {
  const div = document.createElement('div');
  div.className = 'plot';
  parent.append(div);
  return div;
}

interface Epoch {
  readonly epoch: number;
  readonly [metric: string]: number;
}

async function curves(parent: HTMLElement, artifact: ArtifactDetail): Promise<void> {
  const history = await json<Epoch[]>(artifact, 'history.json');
  if (!Array.isArray(history) || !history.length) return;
  const box = section(parent, 'Training curves', 'preview-curves');
  const epochs = history.map((e) => e.epoch);
  for (const [title, keys] of [['loss', ['loss', 'val_loss']], ['accuracy', ['accuracy', 'val_accuracy']]] as const) {
    const traces = keys.filter((k) => history.some((e) => typeof e[k] === 'number')).map((k) => ({ x: epochs, y: history.map((e) => e[k] ?? null), name: k, type: 'scatter', mode: 'lines+markers' }));
    if (traces.length) await plot(plotBox(box), traces, { title: { text: title }, xaxis: { title: { text: 'epoch' } } });
  }
}

async function confusion(parent: HTMLElement, artifact: ArtifactDetail): Promise<void> {
  const report = await json<{ confusion?: number[][]; classes?: string[]; accuracy?: number }>(artifact, 'report.json');
  if (!Array.isArray(report.confusion)) return;
  const box = section(parent, 'Confusion matrix', 'preview-confusion');
  const classes = report.classes ?? report.confusion.map((_, i) => String(i));
  await plot(plotBox(box), [{ z: report.confusion, x: classes, y: classes, type: 'heatmap', colorscale: 'Blues' }], { title: { text: `accuracy ${num(report.accuracy)}` }, yaxis: { autorange: 'reversed', title: { text: 'true' } }, xaxis: { title: { text: 'predicted' } } });
}

async function robustness(parent: HTMLElement, artifact: ArtifactDetail): Promise<void> {
  const data = await json<{ model?: string; results?: { name: string; accuracy: number }[] }>(artifact, 'robustness.json');
  if (!Array.isArray(data.results)) return;
  const box = section(parent, 'Robustness', 'preview-robustness');
  await plot(plotBox(box), [{ z: [data.results.map((r) => r.accuracy)], x: data.results.map((r) => r.name), y: [data.model ?? 'model'], type: 'heatmap', colorscale: 'RdYlGn', zmin: 0, zmax: 1, text: [data.results.map((r) => num(r.accuracy))], texttemplate: '%{text}' }], { title: { text: 'accuracy under each perturbation' }, height: 220 });
}

async function samples(parent: HTMLElement, artifact: ArtifactDetail, name: string): Promise<void> {
  const response = await fetch(fileUrl(artifact.key, name));
  const images = decodeNpy(await response.arrayBuffer());
  if (!images || images.shape.length < 3) return;
  const box = section(parent, `Samples (${name})`, 'preview-samples');
  const canvas = document.createElement('canvas');
  canvas.className = 'samples';
  drawGrid(canvas, images);
  canvas.style.width = `${Math.min(440, canvas.width * 1.5)}px`;
  box.append(canvas);
}

function images(parent: HTMLElement, artifact: ArtifactDetail): void {
  const pngs = artifact.files.filter((f) => /\.(png|jpe?g)$/i.test(f.name));
  if (!pngs.length) return;
  // Grad-CAM overlays first when there are any: they are what the heatmaps are for.
  const ordered = [...pngs.filter((f) => /overlay/.test(f.name)), ...pngs.filter((f) => !/overlay/.test(f.name))].slice(0, MAX_IMAGES);
  const box = section(parent, pngs.some((f) => /heatmap|overlay/.test(f.name)) ? 'Grad-CAM images' : 'Images', 'preview-images');
  const div = document.createElement('div');
  div.className = 'imgs';
  div.innerHTML = ordered.map((f) => html`<img loading="lazy" src="${fileUrl(artifact.key, f.name, true)}" alt="${f.name}" title="${f.name}">`.text).join('');
  box.append(div);
  if (pngs.length > ordered.length) box.insertAdjacentHTML('beforeend', html`<p class="muted">${ordered.length} of ${pngs.length} images shown</p>`.text);
}

async function arrays(parent: HTMLElement, artifact: ArtifactDetail): Promise<void> {
  const npys = artifact.files.filter((f) => f.name.endsWith('.npy')).slice(0, MAX_NPY);
  if (!npys.length) return;
  const box = section(parent, 'Arrays', 'preview-npy');
  const rows: Html[] = [];
  for (const f of npys) {
    const s = await getJson<NpySummary>('/api/npy', { key: artifact.key, name: f.name }).catch((e: unknown) => ({ error: (e as Error).message }));
    rows.push('error' in s ? html`<tr><td><code>${f.name}</code></td><td colspan="6" class="error">${s.error}</td></tr>` : html`<tr><td><code>${f.name}</code></td><td>${s.dtype}</td><td>(${s.shape.join(', ')})</td><td class="num">${s.stats ? num(s.stats.min) : '–'}</td><td class="num">${s.stats ? num(s.stats.max) : '–'}</td><td class="num">${s.stats ? num(s.stats.mean) : '–'}</td><td class="num">${s.stats ? num(s.stats.std) : '–'}</td></tr>`);
  }
  box.insertAdjacentHTML('beforeend', html`<table class="grid"><thead><tr><th>file</th><th>dtype</th><th>shape</th><th>min</th><th>max</th><th>mean</th><th>std</th></tr></thead><tbody>${rows}</tbody></table>`.text);
}

async function execLog(parent: HTMLElement, artifact: ArtifactDetail): Promise<void> {
  const entry = artifact.files.find((f) => f.name === 'exec.log');
  if (!entry) return;
  const text = await (await fetch(fileUrl(artifact.key, entry.name, true))).text();
  const box = section(parent, 'exec.log', 'preview-log');
  const pre = document.createElement('pre');
  pre.className = 'log';
  // textContent: log text is shown, never parsed as markup.
  pre.textContent = text.length > LOG_TAIL ? `…${text.slice(-LOG_TAIL)}` : text;
  box.append(pre);
}

export async function renderPreviews(parent: HTMLElement, artifact: ArtifactDetail): Promise<void> {
  const has = (name: string): boolean => artifact.files.some((f) => f.name === name);
  const tasks: Promise<void>[] = [];
  const guard = (task: Promise<void>): void => {
    tasks.push(task.catch((error: unknown) => parent.insertAdjacentHTML('beforeend', html`<p class="error">preview failed: ${(error as Error).message}</p>`.text)));
  };
  if (has('samples.npy')) guard(samples(parent, artifact, 'samples.npy'));
  if (has('history.json')) guard(curves(parent, artifact));
  if (has('report.json')) guard(confusion(parent, artifact));
  if (has('robustness.json')) guard(robustness(parent, artifact));
  if (has('exec.log')) guard(execLog(parent, artifact));
  images(parent, artifact);
  guard(arrays(parent, artifact));
  await Promise.all(tasks);
}
