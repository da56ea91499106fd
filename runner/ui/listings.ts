/** The runs and artifacts views' data: run records as rows, and every artifact with what gc would delete. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { LeaseDir } from '../../artifacts/lease.js';
import type { ArtifactReader } from '../../artifacts/store.js';
import type { RunRecord } from '../execute/run-records.js';
import { planCollection } from '../cli/gc-plan.js';
import type { CommonFlags } from '../cli/context.js';
import type { ArtifactRow, ArtifactsPayload, RunRow } from './api-types.js';

export function runRow(record: RunRecord): RunRow {
  const counts: Record<string, number> = {};
  let seconds = 0;
  const failed: { stage: string; error: string }[] = [];
  for (const [stage, entry] of Object.entries(record.stages ?? {})) {
    counts[entry.status] = (counts[entry.status] ?? 0) + 1;
    if (entry.status === 'ran') seconds += entry.seconds ?? 0;
    if (entry.status === 'failed') failed.push({ stage, error: entry.error ?? '' });
  }
  return { id: String(record.id), pipeline: String(record.pipeline), file: String(record.file), started_at: String(record.started_at), finished_at: String(record.finished_at), interrupted: Boolean(record.interrupted), counts, seconds, failed };
}

/**
 * Every artifact in the store, newest first, each marked with whether `pipe gc` (default
 * --keep-last 1, keeping the artifacts of `files`) would delete it. gc's own selection, not a copy.
 */
export async function artifactsPayload(store: ArtifactReader, root: string, files: readonly string[], flags: CommonFlags): Promise<ArtifactsPayload> {
  const rows: ArtifactRow[] = [];
  let collectable = new Set<string>();
  let gcNote: string;
  try {
    const leases = join(root, 'leases', 'runs');
    // Read only: a store without a lease directory has no live runs (and opening one would create it).
    const live = existsSync(leases) ? await LeaseDir.open(leases, `${hostname()}-${process.pid}-ui`) : undefined;
    const plan = await planCollection(store, root, async () => (live ? live.live() : []), { ...flags, files, keepLast: 1, recentHours: 0 });
    collectable = new Set(plan.doomed.map((d) => d.key));
    gcNote = `pipe gc ${plan.files.join(' ')} would delete ${plan.doomed.length} artifact(s): it keeps what these pipeline files use now and what the last run of each pipeline used${plan.inUse ? `, and ${plan.inUse} in use by running pipe processes` : ''}`;
  } catch (error) {
    gcNote = `could not tell what gc would delete: ${(error as Error).message}`;
  }
  for (const key of await store.keys()) {
    const manifest = await store.readManifest(key);
    if (!manifest) continue;
    const fileRows = Object.entries(manifest.files).map(([name, f]) => ({ name, bytes: f.bytes, sha256: f.sha256 }));
    rows.push({ key, stage: manifest.stage, pipeline: manifest.pipeline, kind: manifest.kind, bytes: fileRows.reduce((a, f) => a + f.bytes, 0), finished_at: manifest.finished_at, files: fileRows, collectable: collectable.has(key) });
  }
  rows.sort((a, b) => b.finished_at.localeCompare(a.finished_at));
  return { artifacts: rows, gcNote };
}
