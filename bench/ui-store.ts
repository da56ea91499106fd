/**
 * A synthetic store for `pipe ui`'s benchmark and tests, written in seconds without training: a
 * sweep pipeline (load → normalize → flatten → split → train × N variants → evaluate each) whose
 * artifacts are written directly under the keys the planner computes, so `pipe status` finds every
 * stage fresh, plus orphan artifacts of an old pipeline (what gc would delete) up to a total count.
 * Metrics are made up (seeded), and may carry a hostile string to test escaping.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentHash, sha256, type ContentHash, type KeyHash } from '../artifacts/hash.js';
import { KEY_FORMAT, keyHash } from '../artifacts/key.js';
import { LocalStoreReader, MANIFEST, type InputRef, type Manifest } from '../artifacts/store.js';
import type { ArtifactFile, JsonValue } from '../stages/types.js';
import { backendChoice, planFile } from '../runner/cli/context.js';
import { externalFileHashes, keyRecordFor } from '../runner/execute/keys.js';
import { perInput } from '../runner/execute/resolve.js';
import { mulberry32 } from '../stages/util/random.js';

export interface SyntheticStore {
  readonly dir: string;
  readonly store: string;
  readonly pipeline: string;
  readonly variants: number;
  readonly artifacts: number;
}

export interface SyntheticOptions {
  /** Sweep variants: rates × dropouts (rounded up to a multiple of 10). */
  readonly variants: number;
  /** Artifacts in all; the rest past the pipeline's own are orphans. */
  readonly artifacts: number;
  /** A string put in one metric and one file name, to check that the page escapes it. */
  readonly evil?: string;
}

async function writeArtifact(dir: string, manifest: Omit<Manifest, 'content_hash' | 'files'>, files: Record<string, string>): Promise<Manifest> {
  await mkdir(dir, { recursive: true });
  const recorded: Record<string, ArtifactFile> = {};
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
    recorded[name] = { sha256: sha256(text), bytes: Buffer.byteLength(text) };
  }
  const full: Manifest = { ...manifest, content_hash: contentHash(recorded), files: recorded };
  await writeFile(join(dir, MANIFEST), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

export function syntheticPipeline(variants: number): string {
  const dropouts = 10;
  const rates = Math.max(1, Math.ceil(variants / dropouts));
  const list = (n: number, f: (i: number) => number): string => `[${Array.from({ length: n }, (_, i) => String(Number(f(i).toPrecision(4)))).join(', ')}]`;
  return `name: synthetic
description: a ${rates * dropouts}-variant sweep written by bench/ui-store.ts (nothing trained)
stages:
  load: { kind: load, params: { train_limit: 600, test_limit: 200 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: flatten }, params: { validation: 0.2 } }
  train:
    kind: train
    inputs: { data: split }
    params: { model: mlp, epochs: 2 }
    matrix:
      learning_rate: ${list(rates, (i) => 0.0005 * (i + 1))}
      dropout: ${list(dropouts, (i) => i * 0.05)}
  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
`;
}

export async function buildSyntheticStore(dir: string, options: SyntheticOptions): Promise<SyntheticStore> {
  const pipeline = join(dir, 'synthetic.yaml');
  const storeDir = join(dir, 'store');
  await mkdir(storeDir, { recursive: true });
  await writeFile(pipeline, syntheticPipeline(options.variants));
  const planned = await planFile(pipeline, {});
  const backend = backendChoice({}, planned);
  const reader = await LocalStoreReader.openReadOnly(storeDir);
  const next = mulberry32(42);
  const content = new Map<string, ContentHash>();
  const now = Date.now();
  let count = 0;
  for (const stage of planned.stages) {
    const hashes = perInput(stage, 'content hash', (ref) => content.get(ref));
    const files = await externalFileHashes(stage, reader.memo, 'lookup');
    if ('notPresent' in files) throw new Error(`synthetic store: ${files.notPresent}`);
    const record = keyRecordFor(stage, hashes, files.hashes, backend);
    const key = keyHash(record);
    const inputs = perInput(stage, 'content hash', (ref): InputRef | undefined => (content.has(ref) ? { stage: ref, content_hash: content.get(ref)! } : undefined));
    const metrics: Record<string, JsonValue> =
      stage.kind === 'train'
        ? { val_accuracy: Number((0.6 + 0.3 * next()).toFixed(4)), val_loss: Number((0.3 + next()).toFixed(4)), fit_s: Number((5 * next()).toFixed(2)) }
        : stage.kind === 'evaluate'
          ? { accuracy: Number((0.55 + 0.35 * next()).toFixed(4)), macro_f1: Number((0.5 + 0.4 * next()).toFixed(4)) }
          : { rows: 600 };
    if (options.evil !== undefined && stage.name === 'split') metrics['note'] = options.evil;
    const finished = new Date(now - (planned.stages.length - count) * 1000).toISOString();
    const manifest = await writeArtifact(
      reader.artifactDir(key),
      { format: 1, key, stage: stage.name, pipeline: planned.pipeline.name, kind: stage.kind, key_record: record, inputs, metrics, backend, started_at: finished, finished_at: finished, duration_s: Number((10 * next()).toFixed(2)), environment: { synthetic: 'bench/ui-store.ts' } },
      {
        'metrics.json': `${JSON.stringify(metrics)}\n`,
        ...(stage.kind === 'train' ? { 'history.json': `${JSON.stringify([1, 2].map((epoch) => ({ epoch, loss: 1 / epoch, val_loss: 1.2 / epoch, accuracy: 0.5 + epoch / 10, val_accuracy: 0.45 + epoch / 10 })))}\n` } : {}),
        ...(options.evil !== undefined && stage.name === 'split' ? { [`notes/${options.evil.replace(/\//g, '_')}.txt`]: `${options.evil}\n`, 'page.html': `<script>window.__pwned = 1</script>${options.evil}\n` } : {}),
      },
    );
    content.set(stage.name, manifest.content_hash);
    count++;
  }
  // Orphans: an old pipeline's artifacts, which no pipeline file names any more.
  for (let i = 0; count < options.artifacts; i++, count++) {
    const key = sha256(`orphan ${i}`) as KeyHash;
    const finished = new Date(now - 86_400_000 - i * 60_000).toISOString();
    await writeArtifact(
      reader.artifactDir(key),
      { format: 1, key, stage: `old-stage-${i % 37}`, pipeline: 'retired', kind: 'train', key_record: { format: KEY_FORMAT, kind: 'train', impl: 'train@0', params: { i }, inputs: {}, files: {} } as Manifest['key_record'], inputs: {}, metrics: { i }, started_at: finished, finished_at: finished, duration_s: 1, environment: {} },
      { 'metrics.json': `{"i":${i}}\n`, 'weights.bin': 'x'.repeat(1000 + (i % 50) * 100) },
    );
  }
  await reader.close();
  return { dir, store: storeDir, pipeline, variants: planned.stages.filter((s) => s.group === 'train').length, artifacts: count };
}
