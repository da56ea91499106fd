/** `pipe ls` and `pipe show`: look at what the store holds. */
import { join } from 'node:path';
import type { Manifest } from '../../../artifacts/store.js';
import { openReader, storeRoot, type CommonFlags } from '../context.js';
import { age, bytes, table } from '../format.js';
import type { Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';
import { resolveArtifact } from './resolve-artifact.js';

export async function lsCommand(flags: CommonFlags & { json?: boolean }, write: Output): Promise<number> {
  const store = await openReader(storeRoot(flags));
  const rows: { manifest: Manifest; size: number }[] = [];
  for (const key of await store.keys()) {
    const manifest = await store.readManifest(key);
    if (manifest) rows.push({ manifest, size: await store.sizeOf(key) });
  }
  rows.sort((a, b) => b.manifest.finished_at.localeCompare(a.manifest.finished_at));
  if (flags.json) {
    write(`${JSON.stringify(rows.map((r) => ({ key: r.manifest.key, stage: r.manifest.stage, kind: r.manifest.kind, pipeline: r.manifest.pipeline, bytes: r.size, finished_at: r.manifest.finished_at, dir: store.artifactDir(r.manifest.key) })), null, 2)}\n`);
  } else {
    write(`${table(['artifact', 'stage', 'kind', 'pipeline', 'size', 'created'], rows.map((r) => [r.manifest.key.slice(0, 12), r.manifest.stage, r.manifest.kind, r.manifest.pipeline, bytes(r.size), age(r.manifest.finished_at)]))}\n`);
    write(`\n${rows.length} artifacts, ${bytes(rows.reduce((a, r) => a + r.size, 0))} in ${store.root}\n`);
  }
  return 0;
}

export async function showCommand(target: string, flags: CommonFlags & { json?: boolean; pipeline?: string }, write: Output): Promise<number> {
  const root = storeRoot(flags);
  const store = await openReader(root);
  const key = await resolveArtifact(target, root, store, flags);
  const manifest = await store.readManifest(key);
  if (!manifest) throw new UsageError(`artifact ${key} has no readable manifest`);
  const dir = store.artifactDir(key);
  if (flags.json) {
    write(`${JSON.stringify({ ...manifest, dir }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `stage     ${manifest.stage} (${manifest.kind}, ${manifest.key_record.impl}) in pipeline ${manifest.pipeline}`,
    `artifact  ${manifest.key}`,
    `content   ${manifest.content_hash}`,
    `dir       ${dir}`,
    `created   ${manifest.finished_at} (${age(manifest.finished_at)}), took ${manifest.duration_s.toFixed(2)}s${manifest.backend ? `, backend ${manifest.backend}` : ''}`,
    '',
    'params',
    ...Object.entries(manifest.key_record.params).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    '',
    'inputs',
    ...Object.entries(manifest.inputs).map(([k, v]) => `  ${k}: ${(Array.isArray(v) ? v : [v]).map((r: { stage: string; content_hash: string }) => `${r.stage} (${r.content_hash.slice(0, 12)})`).join(', ')}`),
    '',
    'metrics',
    ...Object.entries(manifest.metrics).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    '',
    'files',
    table(['file', 'size', 'sha256'], Object.entries(manifest.files).map(([name, f]) => [join(dir, name), bytes(f.bytes), f.sha256.slice(0, 16)])),
  ];
  write(`${lines.join('\n')}\n`);
  return 0;
}
