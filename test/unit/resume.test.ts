/**
 * Resume lookup (runner/execute/resume.ts): the longest verified checkpoint of the stage's family
 * and horizon with no more epochs than its own; other horizons only explain; stray markers, corrupt
 * artifacts and the stage's own key are never used.
 */
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContentHash, KeyHash } from '../../artifacts/hash.js';
import { KEY_FORMAT, keyHash, type KeyRecord } from '../../artifacts/key.js';
import { LocalStore, LocalStoreReader } from '../../artifacts/store.js';
import { findCheckpoint, pruneCheckpointIndex, recordCheckpoint, resumeTargetOf } from '../../runner/execute/resume.js';
import { STAGES } from '../../stages/index.js';
import type { JsonValue } from '../../stages/types.js';

const train = STAGES['train']!;
const record = (params: Record<string, JsonValue>): KeyRecord => ({
  format: KEY_FORMAT,
  kind: 'train',
  impl: 'train@2+cnn@1',
  params: { model: 'cnn', seed: 0, batch_size: 32, __backend: 'wasm', ...params },
  inputs: { data: 'c0ffee' as ContentHash },
  files: {},
});

let root: string;
let store: LocalStore;

/** Commits a train-like artifact for `rec` with a checkpoint at `progress`, indexed as a commit would. */
async function commit(rec: KeyRecord, progress: number, index = true): Promise<KeyHash> {
  const key = keyHash(rec);
  const tmp = await store.createTemp(key);
  await mkdir(join(tmp, 'checkpoint'));
  await writeFile(join(tmp, 'checkpoint', 'state.json'), JSON.stringify({ epoch: progress }));
  await store.commit(tmp, { key, stage: 'train', pipeline: 'p', kind: 'train', key_record: rec, inputs: {}, metrics: {}, started_at: new Date().toISOString(), duration_s: 0, environment: {} });
  const target = resumeTargetOf(train, rec);
  if (index && target) await recordCheckpoint(root, target, progress, key);
  return key;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pipe-resume-'));
  store = await LocalStore.open(root);
});
afterAll(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('resume family', () => {
  it('leaves out epochs, resolves schedule_epochs 0 to epochs, keeps everything else', () => {
    const a = resumeTargetOf(train, record({ epochs: 4 }));
    const b = resumeTargetOf(train, record({ epochs: 2, schedule_epochs: 4 }));
    expect(a?.family).toBe(b?.family);
    expect([a?.point.horizon, b?.point.horizon, b?.point.progress]).toEqual([4, 4, 2]);
    expect(resumeTargetOf(train, record({ epochs: 2, seed: 1 }))?.family).not.toBe(a?.family);
    expect(resumeTargetOf(train, { ...record({ epochs: 2 }), inputs: { data: 'beef' as ContentHash } })?.family).not.toBe(a?.family);
    expect(resumeTargetOf(train, { ...record({ epochs: 2 }), params: { ...record({ epochs: 2 }).params, __backend: 'cpu' } })?.family).not.toBe(a?.family);
    // Classical models do not resume.
    expect(resumeTargetOf(train, record({ model: 'knn', k: 3 }))).toBeUndefined();
  });
});

describe('findCheckpoint', () => {
  it('takes the longest checkpoint of the same horizon with no more epochs, verified; explains other horizons', async () => {
    const two = await commit(record({ epochs: 2, schedule_epochs: 6 }), 2);
    const four = await commit(record({ epochs: 4, schedule_epochs: 6 }), 4);
    await commit(record({ epochs: 6 }), 6);
    await commit(record({ epochs: 5, schedule_epochs: 8 }), 5);

    const at = async (epochs: number, horizon?: number) => {
      const rec = record(horizon === undefined ? { epochs } : { epochs, schedule_epochs: horizon });
      return findCheckpoint(store, train, rec, keyHash(rec));
    };
    expect(await at(5, 6)).toMatchObject({ status: 'resume', key: four, progress: 4 });
    expect(await at(3, 6)).toMatchObject({ status: 'resume', key: two, progress: 2 });
    // epochs 6 without schedule_epochs has horizon 6, but its own artifact is no checkpoint for itself.
    expect(await at(6)).toMatchObject({ status: 'resume', key: four, progress: 4 });
    expect(await at(1, 6)).toEqual({ status: 'none' });
    // Another horizon: nothing is reused, and the reason names the change.
    const other = await at(7, 7);
    expect(other.status).toBe('none');
    expect(other.status === 'none' && other.why).toMatch(/^cannot resume the epoch 6 checkpoint \([0-9a-f]{12}\): schedule_epochs 6→7 changes its learning rates$/);
    // A read-only reader sees the same.
    const reader = await LocalStoreReader.openReadOnly(root);
    const rec = record({ epochs: 5, schedule_epochs: 6 });
    expect(await findCheckpoint(reader, train, rec, keyHash(rec))).toMatchObject({ status: 'resume', key: four });
  });

  it('skips a corrupt checkpoint, a dangling marker and a marker pointing at another training', async () => {
    const rec = record({ epochs: 9, schedule_epochs: 10, seed: 7 });
    const target = resumeTargetOf(train, rec)!;
    const three = await commit(record({ epochs: 3, schedule_epochs: 10, seed: 7 }), 3);
    const five = await commit(record({ epochs: 5, schedule_epochs: 10, seed: 7 }), 5);
    await writeFile(join(store.artifactDir(five), 'checkpoint', 'state.json'), 'tampered');
    // A marker whose artifact is gone (collected), and one naming another seed's training.
    await recordCheckpoint(root, target, 8, keyHash(record({ epochs: 8, schedule_epochs: 10, seed: 7 })));
    const stranger = await commit(record({ epochs: 7, schedule_epochs: 10, seed: 8 }), 7, false);
    await recordCheckpoint(root, target, 7, stranger);
    expect(await findCheckpoint(store, train, rec, keyHash(rec))).toMatchObject({ status: 'resume', key: three, progress: 3 });
  });

  it('gc prunes the markers of artifacts no longer in the store', async () => {
    const rec = record({ epochs: 2, schedule_epochs: 3, seed: 11 });
    const key = await commit(rec, 2);
    const family = resumeTargetOf(train, rec)!.family;
    expect(await readdir(join(root, 'checkpoints', family))).toHaveLength(1);
    const before = new Set(await store.keys());
    expect(await pruneCheckpointIndex(root, before)).toBeGreaterThan(0); // the dangling epoch-8 marker above
    expect(await readdir(join(root, 'checkpoints', family))).toHaveLength(1);
    await store.remove(key);
    await pruneCheckpointIndex(root, new Set(await store.keys()));
    expect(await readdir(join(root, 'checkpoints'))).not.toContain(family);
  });
});
