/** The stage panel: state and reasons, params with their sources, the artifact's manifest, files and previews. */
import type { GraphPayload, StagePayload } from '../api-types.js';
import { fileUrl, getJson } from './api.js';
import { html } from './escape.js';
import { bytes, jsonText } from './format.js';
import { renderPreviews } from './previews.js';

export async function renderStagePanel(panel: HTMLElement, file: string, stage: string): Promise<void> {
  panel.classList.add('open');
  panel.innerHTML = html`<p class="muted">loading ${stage}…</p>`.text;
  let data: StagePayload;
  try {
    data = await getJson<StagePayload>('/api/stage', { file, stage });
  } catch (error) {
    panel.innerHTML = html`<p class="error">${(error as Error).message}</p>`.text;
    return;
  }
  const s = data.stage;
  const a = data.artifact;
  const params = data.params.map((p) => html`<tr data-param="${p.name}" data-json="${jsonText(p.value)}"><td><code>${p.name}</code></td><td><code>${jsonText(p.value)}</code></td><td>${p.source}${p.inKey ? '' : ' (not in key)'}</td><td class="muted">${p.where === p.source ? '' : p.where}</td></tr>`);
  // Entries of the artifact's key that are not params of the file (the backend it ran on, `__backend`).
  const named = new Set(data.params.map((p) => p.name));
  if (a) for (const [k, v] of Object.entries(a.keyParams)) if (!named.has(k)) params.push(html`<tr data-param="${k}" data-json="${jsonText(v)}"><td><code>${k}</code></td><td><code>${jsonText(v)}</code></td><td>key</td><td class="muted">${k === '__backend' ? 'the backend it ran on' : 'recorded in the key'}</td></tr>`);
  const metrics = a ? Object.entries(a.metrics).map(([k, v]) => html`<tr data-metric="${k}" data-json="${jsonText(v)}"><td><code>${k}</code></td><td><code>${jsonText(v)}</code></td></tr>`) : [];
  const inputs = a ? a.inputs.map((i) => html`<tr><td>${i.name}</td><td>${i.refs.map((r) => html`<div>${r.stage} <code class="muted">${r.content_hash.slice(0, 12)}</code></div>`)}</td></tr>`) : [];
  const files = a ? a.files.map((f) => html`<tr><td><code>${f.name}</code></td><td class="num">${bytes(f.bytes)}</td><td><a href="${fileUrl(a.key, f.name)}" download>download</a></td></tr>`) : [];
  panel.innerHTML = html`
    <h2 id="panel-title">${s.name}</h2>
    <p><span class="badge state-${s.state}" id="panel-state">${s.state}</span> <span class="muted">${s.kind}</span></p>
    ${s.reasons.length ? html`<ul id="panel-reasons">${s.reasons.map((r) => html`<li>${r}</li>`)}</ul>` : ''}
    ${s.error ? html`<p class="error">${s.error}</p>` : ''}
    <h3>Params</h3>
    <table class="grid" id="params-table"><thead><tr><th>param</th><th>value</th><th>from</th><th>where</th></tr></thead><tbody>${params}</tbody></table>
    ${
      a
        ? html`
    <h3>Artifact${data.current ? '' : html` <span class="badge">from its last run, not the current key</span>`}</h3>
    <table class="grid" id="artifact-table"><tbody>
      <tr><th>key</th><td><code id="artifact-key">${a.key}</code></td></tr>
      <tr><th>content hash</th><td><code>${a.content_hash}</code></td></tr>
      <tr><th>implementation</th><td>${a.impl}${a.backend ? ` on ${a.backend}` : ''}</td></tr>
      <tr><th>started</th><td>${a.started_at}</td></tr>
      <tr><th>finished</th><td>${a.finished_at}</td></tr>
      <tr><th>took</th><td>${a.duration_s.toFixed(2)} s</td></tr>
    </tbody></table>
    <h3>Inputs</h3><table class="grid"><tbody>${inputs}</tbody></table>
    <h3>Metrics</h3><table class="grid" id="metrics-table"><tbody>${metrics}</tbody></table>
    <h3>Files</h3><table class="grid" id="files-table"><thead><tr><th>file</th><th>size</th><th></th></tr></thead><tbody>${files}</tbody></table>
    <div id="previews"></div>`
        : html`<p class="muted">No artifact yet: this stage has not produced one.</p>`
    }`.text;
  const previews = panel.querySelector<HTMLElement>('#previews');
  if (a && previews) await renderPreviews(previews, a);
}

/** A collapsed sweep group's panel: its variants, each with its state, linking to its own panel. */
export function renderGroupPanel(panel: HTMLElement, graph: GraphPayload, group: string): void {
  panel.classList.add('open');
  const members = graph.stages.filter((s) => s.group === group);
  const link = (stage: string): string => `#/graph?${new URLSearchParams({ file: graph.file, stage }).toString()}`;
  panel.innerHTML = html`<h2 id="panel-title">${group} <span class="muted">×${members.length}</span></h2>
    <p class="muted">A sweep: pick a variant, or compare them all in the <a href="#/sweep?${new URLSearchParams({ file: graph.file }).toString()}">sweep table</a>.</p>
    <table class="grid" id="group-table"><tbody>${members.map((m) => html`<tr data-stage="${m.name}"><td><a href="${link(m.name)}">${m.name}</a></td><td><span class="badge state-${m.state}">${m.state}</span></td></tr>`)}</tbody></table>`.text;
}
