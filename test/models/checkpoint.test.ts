/**
 * Training checkpoints (stages/models/tf/checkpoint.ts): the Rng and optimizer state round-trip bit
 * for bit, and a fit continued from a checkpoint ends with exactly the weights, history and files of
 * a straight fit, early stopping with restore-best included.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getModel } from '../../stages/models/index.js';
import { readCheckpoint, writeCheckpoint, type LoopState } from '../../stages/models/tf/checkpoint.js';
import { captureOptimizer, restoreOptimizer } from '../../stages/models/tf/optimizer-state.js';
import { Rng } from '../../stages/models/tf/prng.js';
import type { Dataset, FitContext, TrainedModel } from '../../stages/models/types.js';
import { initTf } from '../../stages/tf/backend.js';
import type { Params } from '../../stages/types.js';
import { fashionTrain, rowsOf } from './fashion.js';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-ckpt-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const fitCtx = (extra: Partial<FitContext> = {}): FitContext => ({ signal: new AbortController().signal, progress: () => {}, log: () => {}, backend: 'wasm', ...extra });

describe('Rng state', () => {
  it('continues the same stream after getState/setState', () => {
    const a = new Rng(42);
    for (let i = 0; i < 17; i++) a.next();
    const b = new Rng(7);
    b.setState(a.getState());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(Array.from({ length: 50 }, () => a.next()));
    expect(() => b.setState(-1)).toThrow(/uint32/);
  });
});

describe('optimizer state', () => {
  for (const kind of ['adam', 'sgd'] as const) {
    it(`${kind}: a restored optimizer takes the same steps bit for bit`, async () => {
      const { tf } = await initTf('wasm');
      type Optimizer = ReturnType<typeof tf.train.adam> | ReturnType<typeof tf.train.momentum>;
      const make = (): Optimizer => (kind === 'adam' ? tf.train.adam(0.01) : tf.train.momentum(0.05, 0.9));
      const grads = (i: number): Float32Array => Float32Array.from({ length: 6 }, (_, j) => Math.sin(i * 7 + j) * 0.3);
      const step = (opt: Optimizer, v: ReturnType<typeof tf.variable>, i: number): void => {
        const g = tf.tensor(grads(i), [2, 3]);
        opt.applyGradients([{ name: v.name, tensor: g }]);
        g.dispose();
      };
      const a = tf.variable(tf.tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]));
      const optA = make();
      for (let i = 0; i < 5; i++) step(optA, a, i);
      const state = await captureOptimizer(optA, kind);
      expect(state.iterations).toBe(5);
      expect(state.slots).toHaveLength(kind === 'adam' ? 2 : 1);

      const b = tf.variable(tf.tensor(await a.data(), [2, 3]));
      const optB = make();
      await restoreOptimizer(tf, optB, state, kind);
      for (let i = 5; i < 12; i++) {
        step(optA, a, i);
        step(optB, b, i);
      }
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
      const after = await captureOptimizer(optB, kind);
      expect(after).toEqual(await captureOptimizer(optA, kind));
      tf.dispose([a, b]);
      optA.dispose();
      optB.dispose();
    });
  }
});

describe('checkpoint files', () => {
  it('round-trip every field', async () => {
    const state: LoopState = {
      epoch: 3,
      step: 30,
      rng: 0xdeadbeef,
      order: Int32Array.from([2, 0, 1]),
      history: [{ epoch: 1, loss: 0.5, accuracy: 0.25, learning_rate: 0.001 }],
      stoppedEarly: false,
      best: 0.1234567890123,
      bestEpoch: 2,
      wait: 1,
      weights: [{ shape: [2], values: Float32Array.from([1.5, -2]) }],
      bestWeights: [{ shape: [2], values: Float32Array.from([0.25, 3]) }],
      optimizer: { kind: 'adam', iterations: 30, accBeta1: Math.fround(0.9 ** 31), accBeta2: Math.fround(0.999 ** 31), slots: [{ shape: [2], values: Float32Array.from([0.1, 0.2]) }, { shape: [2], values: Float32Array.from([0.3, 0.4]) }] },
      dropoutSeeds: [12345, null],
    };
    const dir = join(await tmp(), 'checkpoint');
    await writeCheckpoint(dir, state);
    expect(await readCheckpoint(dir)).toEqual(state);
    const none: LoopState = { epoch: 1, step: 10, rng: 1, order: state.order, history: [], stoppedEarly: true, best: Infinity, wait: 0, weights: state.weights, optimizer: { kind: 'sgd', iterations: 10, slots: [] }, dropoutSeeds: [] };
    await writeCheckpoint(dir, none);
    expect(await readCheckpoint(dir)).toEqual(none);
  });
});

async function filesOf(m: TrainedModel): Promise<Record<string, string>> {
  const dir = await tmp();
  await m.save(dir);
  await m.saveCheckpoint?.(join(dir, 'checkpoint'));
  const out: Record<string, string> = {};
  for (const rel of await readdir(dir, { recursive: true })) {
    const bytes = await readFile(join(dir, rel)).catch(() => undefined);
    if (bytes) out[rel] = createHash('sha256').update(bytes).digest('hex');
  }
  return out;
}

/** A straight fit of `epochs`, and one of `split` epochs continued to `epochs`: the same files. */
async function straightAndResumed(model: string, data: Dataset, val: Dataset, params: Params, split: number, epochs: number): Promise<{ straight: Record<string, string>; resumed: Record<string, string>; trained: number; history: readonly unknown[]; info: Readonly<Record<string, unknown>> }> {
  const def = getModel(model);
  const full = { ...params, epochs, schedule_epochs: epochs };
  const straight = await def.fit(data, val, full, fitCtx());
  const first = await def.fit(data, val, { ...params, epochs: split, schedule_epochs: epochs }, fitCtx());
  const dir = join(await tmp(), 'checkpoint');
  const { epochs: at } = (await first.saveCheckpoint?.(dir)) ?? { epochs: -1 };
  const resumed = await def.fit(data, val, full, fitCtx({ resume: { dir, epochs: at } }));
  const out = { straight: await filesOf(straight), resumed: await filesOf(resumed), trained: Number(resumed.timings?.['epochs_trained']), history: resumed.history ?? [], info: resumed.info ?? {} };
  for (const m of [straight, first, resumed]) m.dispose?.();
  return out;
}

describe('resumed fits equal straight ones', () => {
  const all = fashionTrain(360, 'image');
  const data = rowsOf(all, 0, 240);
  const val = rowsOf(all, 240, 360);
  const cnn = { filters: [4, 8], dense_units: 16, batch_size: 32, seed: 5, lr_schedule: 'cosine' };

  it('cnn (batch norm, dropout, adam, cosine): same model, history and checkpoint bytes', async () => {
    const r = await straightAndResumed('cnn', data, val, cnn, 2, 4);
    expect(r.resumed).toEqual(r.straight);
    expect(Object.keys(r.straight)).toEqual(expect.arrayContaining(['model.json', 'weights.bin', 'pipe-model.json', 'checkpoint/state.json', 'checkpoint/tensors.bin', 'checkpoint/order.bin']));
    expect(r.trained).toBe(2);
  });

  it('early stopping with restore-best, sgd and weight decay, 2 shards', async () => {
    // A large rate makes val loss rise early, so patience 1 stops and restore-best swaps weights.
    const params = { ...cnn, optimizer: 'sgd', learning_rate: 0.3, early_stopping_patience: 1, restore_best_weights: true, weight_decay: 0.1, batch_shards: 2 };
    // Stops after epoch 4 with epoch 3 best: resumed before the best (1), between best and stop (3),
    // and from a checkpoint that had already stopped (5 → 6: nothing left to train).
    for (const [split, epochs, trained] of [[1, 5, 3], [3, 5, 1], [5, 6, 0]] as const) {
      const r = await straightAndResumed('cnn', data, val, params, split, epochs);
      expect(r.resumed, `resumed at ${split} of ${epochs}`).toEqual(r.straight);
      expect(r.info).toMatchObject({ stopped_early: true, best_epoch: 3 });
      expect(r.history).toHaveLength(4);
      expect(r.trained).toBe(trained);
    }
  });

  it('an unreadable checkpoint is logged and the fit trains from the start, to the same files', async () => {
    const def = getModel('cnn');
    const params = { ...cnn, epochs: 2 };
    const dir = join(await tmp(), 'checkpoint');
    await mkdir(dir);
    await writeFile(join(dir, 'state.json'), JSON.stringify({ format: 1, epoch: 1 }));
    const logs: string[] = [];
    const fallback = await def.fit(data, val, params, fitCtx({ resume: { dir, epochs: 1 }, log: (m) => logs.push(m) }));
    const straight = await def.fit(data, val, params, fitCtx());
    expect(logs.some((l) => l.startsWith('cannot resume from the checkpoint') && l.endsWith('training from the start'))).toBe(true);
    expect(fallback.timings?.['epochs_trained']).toBe(2);
    expect(await filesOf(fallback)).toEqual(await filesOf(straight));
    [fallback, straight].forEach((m) => m.dispose?.());
  });
});
