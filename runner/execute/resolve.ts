/**
 * The one path from a planned stage to "cached, or stale and why": key record → key → verified
 * lookup → reasons. `pipe run` (executor.ts) and `pipe status` (status.ts) both use it, so what
 * status predicts is what run does. Only the file access differs: run fetches, status only looks.
 */
import { explainChange, keyHash, type KeyRecord, type StaleReason } from '../../artifacts/key.js';
import type { ContentHash, KeyHash } from '../../artifacts/hash.js';
import type { ArtifactReader, Lookup } from '../../artifacts/store.js';
import type { FileAccess, LocatedFiles } from '../../stages/types.js';
import type { PlannedStage } from '../config/types.js';
import { externalFileHashes, keyRecordFor } from './keys.js';
import type { StageRecord } from './run-records.js';

export interface Resolution {
  readonly keyRecord: KeyRecord;
  readonly key: KeyHash;
  readonly found: Lookup;
  /** Empty when the stage is cached (a verified hit and not forced). */
  readonly reasons: readonly StaleReason[];
  /** The external files hashed into the key, where they were found on this machine. */
  readonly external: LocatedFiles;
}

/** Lookup mode only: an external file is not here, so there is no key yet (stale, never an error). */
export interface Unresolved {
  readonly key?: undefined;
  readonly found: { readonly status: 'absent' };
  readonly reasons: readonly StaleReason[];
}

/**
 * Input name → what `of` gives for the upstream stage (a list for `many` inputs): the one walk over
 * a stage's inputs behind its key's input hashes and a job's input keys and references. Callers
 * use it only once every input is done (run) or fresh (status), so `of` finding nothing is a bug.
 */
export function perInput<T>(stage: PlannedStage, what: string, of: (ref: string) => T | undefined): Record<string, T | T[]> {
  const out: Record<string, T | T[]> = {};
  for (const [name, input] of Object.entries(stage.inputs)) {
    const values = input.refs.map((ref) => {
      const value = of(ref);
      if (value === undefined) throw new Error(`input ${ref} of ${stage.name} has no ${what} yet`);
      return value;
    });
    const [first] = values;
    if (input.many) out[name] = values;
    else if (first !== undefined) out[name] = first;
    else throw new Error(`input ${name} of ${stage.name} names no stage`);
  }
  return out;
}

/** Input name → content hash of the upstream artifact (lists for `many` inputs). */
export function inputHashes(stage: PlannedStage, contentHashOf: (ref: string) => ContentHash | undefined): Record<string, ContentHash | ContentHash[]> {
  return perInput(stage, 'content hash', contentHashOf);
}

/**
 * `fetch` (pipe run) may download external files; `lookup` (inspection) only looks, and a file that
 * is not present locally makes the stage stale with that reason instead.
 */
export async function resolveStage(stage: PlannedStage, hashes: Record<string, ContentHash | ContentHash[]>, store: ArtifactReader, previous: StageRecord | undefined, backend: string, forced: boolean, access: 'fetch'): Promise<Resolution>;
export async function resolveStage(stage: PlannedStage, hashes: Record<string, ContentHash | ContentHash[]>, store: ArtifactReader, previous: StageRecord | undefined, backend: string, forced: boolean, access: FileAccess): Promise<Resolution | Unresolved>;
export async function resolveStage(
  stage: PlannedStage,
  hashes: Record<string, ContentHash | ContentHash[]>,
  store: ArtifactReader,
  previous: StageRecord | undefined,
  backend: string,
  forced: boolean,
  access: FileAccess,
): Promise<Resolution | Unresolved> {
  const files = await externalFileHashes(stage, store.memo, access);
  if ('notPresent' in files) return { found: { status: 'absent' }, reasons: [{ code: 'output-missing', detail: files.notPresent }] };
  const keyRecord = keyRecordFor(stage, hashes, files.hashes, backend);
  const key = keyHash(keyRecord);
  const found = await store.lookup(key);
  return { keyRecord, key, found, reasons: reasonsFor(found, keyRecord, previous, forced), external: files.located };
}

/** Why a stage must run, given what the store has and what the stage's last successful run used. */
export function reasonsFor(found: Lookup, keyRecord: KeyRecord, previous: StageRecord | undefined, forced: boolean): StaleReason[] {
  if (found.status === 'hit') return forced ? [{ code: 'forced' }] : [];
  if (found.status === 'corrupt') return [{ code: 'output-missing', detail: found.detail }];
  const before = previous?.key_record;
  const changes = before ? explainChange(before, keyRecord) : [{ code: 'never-run' } as const];
  return changes.length ? changes : [{ code: 'output-missing', detail: 'artifact not in the store' }];
}

