/**
 * What `pipe gc` would delete, without deleting anything: shared by `pipe gc` (which then deletes
 * with --yes) and `pipe ui`'s artifacts view (which only shows it). Kept: every artifact the
 * pipeline files resolve to now (fresh stages), everything the last `keepLast` runs of each
 * pipeline used, whatever a live run uses, and anything newer than `recentHours`.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyHash } from '../../artifacts/hash.js';
import type { LeaseInfo } from '../../artifacts/lease.js';
import type { ArtifactReader } from '../../artifacts/store.js';
import { readRunRecords } from '../execute/run-records.js';
import { computeStatus } from '../execute/status.js';
import { backendChoice, planFile, previousRuns, type CommonFlags } from './context.js';

export interface Collectable {
  readonly key: KeyHash;
  readonly stage: string;
  readonly pipeline: string;
  readonly created: string;
  readonly size: number;
}

export interface CollectionPlan {
  /** The pipeline files whose artifacts were kept. */
  readonly files: readonly string[];
  /** Pipelines all of whose artifacts were kept, since which ones they use cannot be told. */
  readonly undetermined: ReadonlySet<string>;
  /** Artifacts kept only because a running pipe process uses them. */
  readonly inUse: number;
  readonly doomed: readonly Collectable[];
}

export interface CollectionOptions extends CommonFlags {
  readonly files: readonly string[];
  readonly keepLast: number;
  readonly recentHours: number;
}

/** The given files, or the .yaml files in ./pipelines. */
export async function pipelineFiles(given: readonly string[]): Promise<string[]> {
  if (given.length) return [...given];
  const names = await readdir('pipelines').catch(() => [] as string[]);
  return names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join('pipelines', n));
}

export async function planCollection(store: ArtifactReader, root: string, liveRuns: () => Promise<readonly LeaseInfo[]>, options: CollectionOptions): Promise<CollectionPlan> {
  const keep = new Set<KeyHash>();
  // Pipelines whose keys cannot all be computed without fetching (gc only looks): all of their
  // artifacts are kept, since which ones they use cannot be told.
  const undetermined = new Set<string>();
  const files = await pipelineFiles(options.files);
  for (const file of files) {
    const planned = await planFile(file, options);
    const states = await computeStatus(planned, store, await previousRuns(root, planned.pipeline.name), backendChoice(options, planned));
    for (const s of states) if (s.state === 'fresh') keep.add(s.key);
    if (states.some((s) => s.state === 'stale' && s.undetermined)) undetermined.add(planned.pipeline.name);
  }
  const perPipeline = new Map<string, number>();
  for (const record of await readRunRecords(root)) {
    const seen = perPipeline.get(record.pipeline) ?? 0;
    if (seen >= options.keepLast) continue;
    perPipeline.set(record.pipeline, seen + 1);
    for (const stage of Object.values(record.stages)) if (stage.key) keep.add(stage.key);
  }
  // Whatever a live run reads or writes survives, even if no pipeline file references it now.
  let inUse = 0;
  for (const run of await liveRuns()) for (const key of run.keys ?? []) if (!keep.has(key)) { keep.add(key); inUse++; }
  const doomed: Collectable[] = [];
  for (const key of await store.keys()) {
    if (keep.has(key)) continue;
    const manifest = await store.readManifest(key);
    if (manifest && undetermined.has(manifest.pipeline)) continue;
    const created = manifest?.finished_at ?? new Date(0).toISOString();
    if (Date.now() - Date.parse(created) < options.recentHours * 3600_000) continue;
    doomed.push({ key, stage: manifest?.stage ?? '?', pipeline: manifest?.pipeline ?? '?', created, size: await store.sizeOf(key) });
  }
  return { files, undetermined, inUse, doomed };
}
