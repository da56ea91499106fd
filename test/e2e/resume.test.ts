/**
 * Resuming a tfjs training from a cached checkpoint (issue 29, part 1), through the real CLI on a
 * small CNN and real Fashion-MNIST rows: 2 epochs of a 4-epoch schedule, then 4 epochs, continues
 * from the checkpoint and writes exactly the bytes a straight 4-epoch run writes in a fresh store.
 * A different schedule horizon reuses nothing, and `pipe status` says why. A `pipe worker` sharing
 * the store resumes the same way (it looks in its own store).
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisService } from '../services/redis.js';
import { makeRig, type CliResult, type Rig } from './rig.js';

const PIPELINE = `name: resume
stages:
  load: { kind: load, params: { train_limit: 600, test_limit: 200 } }
  normalize: { kind: normalize, inputs: { data: load } }
  reshape: { kind: reshape, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: reshape }, params: { validation: 0.2 } }
  train:
    kind: train
    inputs: { data: split }
    params: { model: cnn, filters: [8, 16], dense_units: 32, batch_size: 32, epochs: 4, seed: 3 }
  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
`;

type Event = Record<string, unknown> & { type: string };
interface Manifest {
  readonly key: string;
  readonly content_hash: string;
  readonly files: Record<string, { sha256: string }>;
}

const set = (epochs: number, horizon: number): string[] => ['--set', `train.epochs=${epochs}`, '--set', `train.schedule_epochs=${horizon}`];

describe('resuming a training from its checkpoint', () => {
  let rig: Rig;
  const seconds: Record<string, number> = {};
  const fitSeconds: Record<string, number> = {};
  beforeAll(async () => {
    rig = await makeRig();
    await rig.write('p.yaml', PIPELINE);
  });
  afterAll(async () => {
    // eslint-disable-next-line no-console -- the measured figures are reported, not asserted as timings
    console.log(`train stage seconds: ${JSON.stringify(seconds)}; fit_s: ${JSON.stringify(fitSeconds)}`);
    await rig.cleanup();
  });

  const run = async (label: string, args: readonly string[]): Promise<{ result: CliResult; events: Event[]; trainDone: Event; logs: string[] }> => {
    const result = await rig.pipe(['run', 'p.yaml', '--json', '--backend', 'wasm', ...args]);
    expect(result.code, result.stderr).toBe(0);
    const events = rig.events(result);
    const trainDone = events.find((e) => e.type === 'stage-done' && e.stage === 'train');
    if (!trainDone) throw new Error(`${label}: train did not run`);
    seconds[label] = Number(trainDone['seconds']);
    fitSeconds[label] = Number((trainDone['metrics'] as Record<string, unknown>)['fit_s']);
    const logs = events.filter((e) => e.type === 'stage-log' && e.stage === 'train').map((e) => String(e['message']));
    return { result, events, trainDone, logs };
  };
  const manifestOf = (store: string, key: string): Manifest => JSON.parse(readFileSync(join(rig.dir, store, 'artifacts', key.slice(0, 2), key, 'manifest.json'), 'utf8')) as Manifest;
  /** The sha256 of each file as it is on disk (not only as the manifest says). */
  const hashes = (store: string, key: string, files: readonly string[]): Record<string, string> =>
    Object.fromEntries(files.map((f) => [f, createHash('sha256').update(readFileSync(join(rig.dir, store, 'artifacts', key.slice(0, 2), key, f))).digest('hex')]));
  const status = async (args: readonly string[]): Promise<{ reasons: string[]; resume?: string }> => {
    const result = await rig.pipe(['status', 'p.yaml', '--json', '--backend', 'wasm', ...args]);
    expect(result.code, result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as { stages: { stage: string; reasons?: string[]; resume?: string }[] };
    const train = report.stages.find((s) => s.stage === 'train');
    return { reasons: train?.reasons ?? [], ...(train?.resume ? { resume: train.resume } : {}) };
  };

  it('continues 2 → 4 epochs and writes the bytes of a straight 4-epoch run; another horizon reuses nothing', async () => {
    const first = await run('A: epochs 2 of 4', set(2, 4));
    expect(first.trainDone['metrics']).toMatchObject({ epochs_run: 2, epochs_trained: 2 });
    const firstKey = String(first.trainDone['key']);

    expect(await status(set(4, 4))).toEqual({ reasons: ['param-changed epochs 2→4'], resume: `will resume from epoch 2 checkpoint (${firstKey.slice(0, 12)})` });

    const resumed = await run('A: epochs 4, resumed', set(4, 4));
    expect(resumed.logs).toContain(`resuming from epoch 2 checkpoint (${firstKey.slice(0, 12)})`);
    expect(resumed.logs.filter((l) => /^epoch \d+\/4 /.test(l)).map((l) => l.split(' ')[1])).toEqual(['3/4', '4/4']);
    expect(resumed.trainDone['metrics']).toMatchObject({ epochs_run: 4, epochs_trained: 2, resumed_from_epoch: 2 });

    const straight = await run('B: epochs 4, straight', ['--store', 'store-b', ...set(4, 4)]);
    expect(straight.logs.some((l) => l.startsWith('resuming'))).toBe(false);
    expect(straight.trainDone['metrics']).toMatchObject({ epochs_run: 4, epochs_trained: 4 });

    // One key (the key is unchanged in meaning), and the same bytes in both stores.
    const key = String(resumed.trainDone['key']);
    expect(straight.trainDone['key']).toBe(key);
    const a = manifestOf('.pipe', key);
    const b = manifestOf('store-b', key);
    const files = Object.keys(a.files).sort();
    expect(files).toEqual(expect.arrayContaining(['history.json', 'model/model.json', 'model/weights.bin', 'model/pipe-model.json', 'checkpoint/state.json', 'checkpoint/tensors.bin', 'checkpoint/order.bin']));
    expect(Object.keys(b.files).sort()).toEqual(files);
    expect(hashes('.pipe', key, files)).toEqual(hashes('store-b', key, files));
    expect(a.content_hash).toBe(b.content_hash);
    // history.json holds only deterministic fields (no timings), so comparing its bytes is fair.
    const history = JSON.parse(readFileSync(join(rig.dir, '.pipe', 'artifacts', key.slice(0, 2), key, 'history.json'), 'utf8')) as Record<string, unknown>[];
    expect(Object.keys(history[0] ?? {}).sort()).toEqual(['accuracy', 'epoch', 'learning_rate', 'loss', 'val_accuracy', 'val_loss']);
    // Downstream the resumed artifact is an ordinary one: evaluate's key is the same in both stores.
    const evalKey = (events: Event[]) => events.find((e) => (e.type === 'stage-done' || e.type === 'stage-cached') && e.stage === 'evaluate')?.['key'];
    expect(evalKey(resumed.events)).toBe(evalKey(straight.events));

    // A new horizon changes every learning rate: nothing is reused, and status says why.
    const changed = await status(set(6, 6));
    expect(changed.resume).toMatch(/^cannot resume the epoch 4 checkpoint \([0-9a-f]{12}\): schedule_epochs 4→6 changes its learning rates$/);
    const longer = await run('A: epochs 6 of 6', set(6, 6));
    expect(longer.logs.some((l) => l.startsWith('resuming'))).toBe(false);
    expect(longer.trainDone['metrics']).toMatchObject({ epochs_run: 6, epochs_trained: 6 });
  });
});

describe('a queue worker resumes from the checkpoint in its store', () => {
  let rig: Rig;
  let redis: RedisService;
  let worker: ChildProcess | undefined;
  beforeAll(async () => {
    rig = await makeRig();
    await rig.write('p.yaml', PIPELINE);
    redis = await startRedis();
  });
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await redis.stop();
    await rig.cleanup();
  });

  it('continues 2 → 4 epochs on the worker and commits the straight run\'s bytes', async () => {
    const first = await rig.pipe(['run', 'p.yaml', '--json', '--backend', 'wasm', '--store', 'shared', ...set(2, 4)]);
    expect(first.code, first.stderr).toBe(0);
    worker = await new Promise<ChildProcess>((resolve, reject) => {
      const child = rig.spawnPipe(['worker', '--queue', redis.url, '--store', 'shared']);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('slot(s), queue')) resolve(child);
      });
      child.on('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
    });
    const queued = await rig.pipe(['run', 'p.yaml', '--json', '--backend', 'wasm', '--store', 'shared', '--queue', redis.url, ...set(4, 4)]);
    expect(queued.code, queued.stderr).toBe(0);
    const events = rig.events(queued);
    const done = events.find((e) => e.type === 'stage-done' && e.stage === 'train');
    expect(typeof done?.['worker']).toBe('string');
    expect(events.some((e) => e.type === 'stage-log' && e.stage === 'train' && String(e['message']).startsWith('resuming from epoch 2 checkpoint'))).toBe(true);
    expect(done?.['metrics']).toMatchObject({ epochs_run: 4, epochs_trained: 2, resumed_from_epoch: 2 });

    const straight = await rig.pipe(['run', 'p.yaml', '--json', '--backend', 'wasm', '--store', 'straight', ...set(4, 4)]);
    expect(straight.code, straight.stderr).toBe(0);
    const straightDone = rig.events(straight).find((e) => e.type === 'stage-done' && e.stage === 'train');
    expect(straightDone?.['key']).toBe(done?.['key']);
    const key = String(done?.['key']);
    const content = (store: string): string => (JSON.parse(readFileSync(join(rig.dir, store, 'artifacts', key.slice(0, 2), key, 'manifest.json'), 'utf8')) as Manifest).content_hash;
    expect(content('shared')).toBe(content('straight'));
  }, 180_000);
});
