/**
 * The deleting half of `pipe gc`: removes the artifacts it chose, except those a run started using
 * since the listing (the run leases are read again just before deleting), and reports exactly what
 * happened to each, so the summary never counts a key it skipped or failed to delete.
 */
import type { KeyHash } from './hash.js';
import type { ArtifactStore } from './store.js';
import { errorMessage } from '../stages/errors.js';

export interface Doomed {
  readonly key: KeyHash;
  readonly size: number;
}

export interface Collection<T extends Doomed> {
  readonly deleted: readonly T[];
  /** In use by a run that started after the listing. */
  readonly inUse: readonly T[];
  readonly failed: ReadonlyArray<{ readonly artifact: T; readonly message: string }>;
}

export async function collect<T extends Doomed>(store: ArtifactStore, doomed: readonly T[]): Promise<Collection<T>> {
  const live = new Set((await store.runLeases.live()).flatMap((r) => r.keys ?? []));
  const deleted: T[] = [];
  const inUse: T[] = [];
  const failed: Array<{ artifact: T; message: string }> = [];
  for (const d of doomed) {
    if (live.has(d.key)) {
      inUse.push(d);
      continue;
    }
    try {
      await store.remove(d.key);
      deleted.push(d);
    } catch (error) {
      failed.push({ artifact: d, message: errorMessage(error) });
    }
  }
  return { deleted, inUse, failed };
}
