/** Run history: the store's run records, newest first, with the runs still in progress marked. */
import type { RunsPayload } from '../api-types.js';
import { getJson } from './api.js';
import { html } from './escape.js';
import { age } from './format.js';

export async function renderRuns(container: HTMLElement): Promise<void> {
  const { runs, live } = await getJson<RunsPayload>('/api/runs');
  const rows = runs.map((r) => {
    const counts = Object.entries(r.counts).map(([status, n]) => `${n} ${status}`).join(', ');
    return html`<tr data-run="${r.id}"><td><code>${r.id}</code></td><td>${r.pipeline}</td><td>${r.file}</td><td title="${r.finished_at}">${age(r.finished_at)}</td><td>${counts}</td><td class="num">${r.seconds.toFixed(1)}</td><td>${r.interrupted ? 'interrupted' : ''}${r.failed.map((f) => html`<div class="error">${f.stage}: ${f.error}</div>`)}</td></tr>`;
  });
  container.innerHTML = html`<h2>Runs</h2>
    ${live.length ? html`<p id="runs-live">In progress: ${live.map((id) => html`<code>${id}</code> `)}</p>` : ''}
    ${runs.length ? html`<table class="grid" id="runs-table"><thead><tr><th>run</th><th>pipeline</th><th>file</th><th>finished</th><th>stages</th><th>stage seconds</th><th></th></tr></thead><tbody>${rows}</tbody></table>` : html`<p class="muted">No runs recorded in this store yet.</p>`}`.text;
}
