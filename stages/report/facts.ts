/**
 * Run facts: every input artifact with its backend, params, content hash, files and timings. Only
 * manifest data the runner hands the stage (InputArtifact), so the report is a pure function of its
 * inputs; timings are placeholders filled when the report is published (timings.ts).
 */
import { contentHash } from '../../artifacts/hash.js';
import type { InputArtifact, JsonValue, Params } from '../types.js';
import { esc, int, table, type Section } from './html.js';
import { allTimingsSpan } from './timings.js';

export interface RoleArtifact {
  readonly role: string;
  readonly artifact: InputArtifact;
  /** Backend when the metrics do not carry it (evaluate records it in report.json). */
  readonly backend?: string;
}

function compactJson(value: JsonValue | Params): string {
  const text = JSON.stringify(value);
  return text === '{}' ? '—' : text;
}

function fileList(a: InputArtifact): string {
  const names = Object.keys(a.files).sort();
  const rows = names.map((n) => [n, { text: int(a.files[n]!.bytes), sort: a.files[n]!.bytes, numeric: true }, { text: a.files[n]!.sha256, html: `<code>${esc(a.files[n]!.sha256)}</code>` }]);
  return `<details><summary>${esc(a.stage)}: ${names.length} files</summary>${table(['file', 'bytes', 'sha256'], rows, { cls: 'files' })}</details>`;
}

export function factsSection(artifacts: readonly RoleArtifact[], reportParams: Params): Section {
  const rows = artifacts.map(({ role, artifact: a, backend: given }) => {
    const hash = contentHash(a.files);
    const bytes = Object.values(a.files).reduce((s, f) => s + f.bytes, 0);
    const backend = a.metrics['backend'] ?? given;
    // Recorded by train (installed package versions); other stages did not compute a model.
    const versions = a.metrics['versions'];
    return [
      role,
      { text: a.stage, html: `<code>${esc(a.stage)}</code>` },
      a.kind,
      typeof backend === 'string' ? backend : '—',
      typeof versions === 'string' ? versions : '—',
      { text: hash, html: `<code title="${esc(hash)}">${esc(hash.slice(0, 12))}</code>` },
      { text: int(bytes), sort: bytes, numeric: true },
      { text: '—', html: allTimingsSpan(a.stage) },
      { text: compactJson(a.params), html: `<code class="params">${esc(compactJson(a.params))}</code>` },
    ];
  });
  const html = [
    `<p class="muted">Report params: <code>${esc(compactJson(reportParams))}</code>. Content hashes identify each artifact's files (as in <code>pipe artifacts</code>).</p>`,
    table(['input', 'stage', 'kind', 'backend', 'versions', 'content hash', 'bytes', 'timings', 'params'], rows, { sortable: true, cls: 'facts', id: 'facts-table' }),
    '<h4>Files</h4>',
    artifacts.map(({ artifact }) => fileList(artifact)).join('\n'),
  ].join('\n');
  return { id: 'facts', title: 'Run facts', html, figures: [] };
}
