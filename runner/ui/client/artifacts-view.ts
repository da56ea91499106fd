/**
 * Every artifact in the store, filterable by pipeline and stage and sortable by age or size, with
 * what `pipe gc` would delete marked, and a download link per file (the server serves only files a
 * manifest names).
 */
import type { ArtifactRow, ArtifactsPayload } from '../api-types.js';
import { fileUrl, getJson } from './api.js';
import { html } from './escape.js';
import { age, bytes } from './format.js';

const PAGE = 200;

export async function renderArtifacts(container: HTMLElement): Promise<void> {
  const data = await getJson<ArtifactsPayload>('/api/artifacts');
  const pipelines = [...new Set(data.artifacts.map((a) => a.pipeline))].sort();
  const total = data.artifacts.reduce((n, a) => n + a.bytes, 0);
  const doomed = data.artifacts.filter((a) => a.collectable);
  container.innerHTML = html`<h2>Artifacts <span class="muted">(${data.artifacts.length}, ${bytes(total)})</span></h2>
    <p id="gc-note">${data.gcNote}${doomed.length ? ` — ${bytes(doomed.reduce((n, a) => n + a.bytes, 0))}` : ''}</p>
    <div class="controls"><label>pipeline <select id="art-pipeline"><option value="">all</option>${pipelines.map((p) => html`<option>${p}</option>`)}</select></label>
    <label>stage <input id="art-stage" type="search"></label>
    <label>sort <select id="art-sort"><option value="age">newest</option><option value="size">largest</option><option value="stage">stage</option></select></label>
    <label><input type="checkbox" id="art-gc"> only what gc would delete</label></div>
    <table class="grid" id="artifacts-table"><thead><tr><th>artifact</th><th>stage</th><th>pipeline</th><th>kind</th><th>size</th><th>created</th><th>gc</th><th>files</th></tr></thead><tbody></tbody></table>
    <p id="art-more" class="muted"></p>`.text;
  const body = container.querySelector('#artifacts-table tbody')!;
  const control = <T extends HTMLElement>(id: string): T => container.querySelector<T>(id)!;
  const draw = (): void => {
    const pipeline = control<HTMLSelectElement>('#art-pipeline').value;
    const stage = control<HTMLInputElement>('#art-stage').value.trim().toLowerCase();
    const sort = control<HTMLSelectElement>('#art-sort').value;
    const onlyGc = control<HTMLInputElement>('#art-gc').checked;
    const rows = data.artifacts.filter((a) => (!pipeline || a.pipeline === pipeline) && (!stage || a.stage.toLowerCase().includes(stage)) && (!onlyGc || a.collectable));
    const by: Record<string, (a: ArtifactRow, b: ArtifactRow) => number> = { age: (a, b) => b.finished_at.localeCompare(a.finished_at), size: (a, b) => b.bytes - a.bytes, stage: (a, b) => a.stage.localeCompare(b.stage) };
    rows.sort(by[sort] ?? by['age']);
    body.innerHTML = rows
      .slice(0, PAGE)
      .map((a) => html`<tr data-key="${a.key}"><td><code>${a.key.slice(0, 12)}</code></td><td>${a.stage}</td><td>${a.pipeline}</td><td>${a.kind}</td><td class="num">${bytes(a.bytes)}</td><td title="${a.finished_at}">${age(a.finished_at)}</td><td>${a.collectable ? html`<span class="badge state-failed">would delete</span>` : ''}</td><td><details><summary>${a.files.length} files</summary>${a.files.map((f) => html`<div><a href="${fileUrl(a.key, f.name)}" download>${f.name}</a> <span class="muted">${bytes(f.bytes)}</span></div>`)}</details></td></tr>`.text)
      .join('');
    control<HTMLElement>('#art-more').textContent = rows.length > PAGE ? `${PAGE} of ${rows.length} shown; filter to narrow` : '';
  };
  for (const id of ['#art-pipeline', '#art-stage', '#art-sort', '#art-gc']) control<HTMLElement>(id).addEventListener('input', draw);
  draw();
}
