/**
 * Resuming a stage from a checkpoint of its own kind (train, for tfjs models: part 1 of issue 29).
 *
 * A resumable stage's artifact carries its checkpoint (stages/types.ts CHECKPOINT_DIR) beside its
 * ordinary output, so a checkpoint is content-hashed, verified, gc'd and fetched like any artifact
 * and needs no key of its own. Finding one must not scan the store, so each commit of a resumable
 * stage leaves an empty marker file
 *
 *   checkpoints/<family>/<horizon>-<progress>-<artifact key>
 *
 * where `family` hashes the stage's key record with the progress param (epochs) and the horizon
 * (schedule_epochs, resolved) left out. A stage that must run reads its family's folder, keeps the
 * markers of its own horizon and of no more progress than its own, and continues from the longest
 * one whose artifact passes the store's verification (every file against the manifest's sha256)
 * and whose own key record gives the same family again, so a stray or forged marker can point at
 * nothing else. Markers of other horizons only explain, in `pipe status`, why nothing is reused.
 *
 * The stage's own key does not change: a resumed run writes the bytes a straight one would, so its
 * dependents see one ordinary artifact. Markers are hints: a dangling one (its artifact collected)
 * is skipped, and a store without markers simply trains from the start.
 */
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, parseKeyHash, sha256, type KeyHash } from '../../artifacts/hash.js';
import { keyHash, type KeyRecord } from '../../artifacts/key.js';
import type { ArtifactReader, Manifest } from '../../artifacts/store.js';
import { CHECKPOINT_DIR, type Params, type ResumePoint, type StageDefinition } from '../../stages/types.js';
import { BACKEND_PARAM, JobRefusedError } from './work-check.js';

/** Bumped if what a family hashes changes: old markers then belong to no family. */
const FAMILY_FORMAT = 1;
const CHECKPOINTS = 'checkpoints';
/** A checkpoint's main file: an artifact without it has no checkpoint (made before resuming existed). */
const STATE_FILE = `${CHECKPOINT_DIR}/state.json`;

export interface ResumeTarget {
  /** Hash of the key record less progress and horizon. */
  readonly family: string;
  readonly point: ResumePoint;
}

/** The stage's resume family and point from its key record, or undefined when it cannot resume. */
export function resumeTargetOf(definition: StageDefinition | undefined, record: KeyRecord): ResumeTarget | undefined {
  if (!definition?.resumePoint || definition.kind !== record.kind) return undefined;
  const { [BACKEND_PARAM]: backend, ...keyParams } = record.params;
  const point = definition.resumePoint(keyParams);
  if (!point) return undefined;
  const params: Params = backend === undefined ? point.family : { ...point.family, [BACKEND_PARAM]: backend };
  // Everything else of the record (kind, impl, inputs' content hashes, files, code) must match as is.
  return { family: sha256(canonicalJson({ resume_format: FAMILY_FORMAT, record: { ...record, params } })), point };
}

interface Marker {
  readonly horizon: number;
  readonly progress: number;
  readonly key: KeyHash;
}

const MARKER = /^(\d+)-(\d+)-([0-9a-f]+)$/;

async function markers(root: string, family: string): Promise<Marker[]> {
  const out: Marker[] = [];
  for (const name of await readdir(join(root, CHECKPOINTS, family)).catch(() => [] as string[])) {
    const m = MARKER.exec(name);
    const key = m ? parseKeyHash(m[3] ?? '') : undefined;
    if (m && key) out.push({ horizon: Number(m[1]), progress: Number(m[2]), key });
  }
  // Longest first; among equals, by key, so every process picks the same one.
  return out.sort((a, b) => b.progress - a.progress || a.key.localeCompare(b.key));
}

/** Records that `key`'s artifact holds a checkpoint at `progress` (idempotent; only the committing process calls it). */
export async function recordCheckpoint(root: string, target: ResumeTarget, progress: number, key: KeyHash): Promise<void> {
  const dir = join(root, CHECKPOINTS, target.family);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${target.point.horizon}-${progress}-${key}`), '', { flag: 'a' });
}

/**
 * Deletes the markers whose artifact is no longer in the store (`pipe gc` calls it under its lock,
 * after deleting), and family folders left empty. Returns how many markers went.
 */
export async function pruneCheckpointIndex(root: string, present: ReadonlySet<string>): Promise<number> {
  let pruned = 0;
  const base = join(root, CHECKPOINTS);
  for (const family of await readdir(base).catch(() => [] as string[])) {
    const dir = join(base, family);
    const names = await readdir(dir).catch(() => [] as string[]);
    let left = names.length;
    for (const name of names) {
      const key = MARKER.exec(name)?.[3];
      if (key !== undefined && present.has(key)) continue;
      await rm(join(dir, name), { force: true });
      pruned++;
      left--;
    }
    // A marker committed meanwhile makes the folder non-empty again: then it simply stays.
    if (left === 0) await rmdir(dir).catch(() => undefined);
  }
  return pruned;
}

export type CheckpointChoice =
  | { readonly status: 'resume'; readonly key: KeyHash; readonly progress: number; readonly manifest: Manifest; readonly dir: string; readonly point: ResumePoint }
  /** Nothing to continue from; `why` says what was there and could not be used, when anything was. */
  | { readonly status: 'none'; readonly why?: string };

/**
 * The longest verified checkpoint this stage can continue from. `own` is the stage's key: its own
 * artifact is never a checkpoint for itself (it would be a cache hit).
 */
export async function findCheckpoint(store: ArtifactReader, definition: StageDefinition | undefined, record: KeyRecord, own: KeyHash): Promise<CheckpointChoice> {
  const target = resumeTargetOf(definition, record);
  if (!target) return { status: 'none' };
  const { point } = target;
  const all = (await markers(store.root, target.family)).filter((m) => m.key !== own);
  for (const m of all) {
    if (m.horizon !== point.horizon || m.progress > point.progress) continue;
    const found = await store.lookup(m.key);
    if (found.status !== 'hit') continue;
    const manifest = found.manifest;
    if (!(STATE_FILE in manifest.files) || keyHash(manifest.key_record) !== m.key) continue;
    const theirs = resumeTargetOf(definition, manifest.key_record);
    if (theirs?.family !== target.family || theirs.point.horizon !== point.horizon || theirs.point.progress < m.progress) continue;
    return { status: 'resume', key: m.key, progress: m.progress, manifest, dir: found.dir, point };
  }
  // Why nothing fits, from the longest other-horizon checkpoint still in the store (manifest only: status stays cheap).
  for (const m of all) {
    if (m.horizon === point.horizon || m.progress > point.progress || !(await store.readManifest(m.key))) continue;
    return {
      status: 'none',
      why: `cannot resume the ${unit(point)} ${m.progress} checkpoint (${m.key.slice(0, 12)}): ${point.horizonParam} ${m.horizon}→${point.horizon} changes its learning rates`,
    };
  }
  return { status: 'none' };
}

/** "epoch" for epochs: the progress param's singular, for "resuming from epoch 5". */
export function unit(point: ResumePoint): string {
  return point.progressParam.replace(/s$/, '');
}

/**
 * In the stage thread: refuses a checkpoint handed over with the job unless it is of this stage's
 * family and horizon and of no more progress (the runner checked this against the store already;
 * this keeps the thread from trusting a job field the key record does not back).
 */
export function checkResumeFits(definition: StageDefinition, record: KeyRecord, checkpointParams: Params, progress: number): void {
  const target = resumeTargetOf(definition, record);
  const theirs = resumeTargetOf(definition, { ...record, params: checkpointParams });
  if (!target || !theirs || theirs.family !== target.family || theirs.point.horizon !== target.point.horizon || progress > target.point.progress || progress > theirs.point.progress) {
    throw new JobRefusedError('resume', 'the checkpoint is not one of this stage\'s own training with fewer epochs');
  }
}
