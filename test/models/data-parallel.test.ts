/**
 * Data-parallel training (stages/models/tf/data-parallel.ts): the shard count defines the maths,
 * the thread count only the speed. Threads need the compiled helper script, so the threaded fits
 * import the models from dist/ (built by test/global-setup.ts), on real Fashion-MNIST images.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs';
import { shardRange } from '../../stages/models/tf/data-parallel.js';
import { differentiateInputConvsLazily } from '../../stages/models/tf/input-conv.js';
import { ShardComputer } from '../../stages/models/tf/shard.js';
import { initTf } from '../../stages/tf/backend.js';
import type { FitContext, ModelDefinition, TrainedModel } from '../../stages/models/types.js';
import type { Params } from '../../stages/types.js';
import { fashionTrain, rowsOf } from './fashion.js';

const ROOT = join(import.meta.dirname, '../..');

describe('shardRange', () => {
  it('splits any batch into contiguous shards that cover it exactly, sizes within one of each other', () => {
    for (const b of [1, 2, 7, 64, 127, 128]) {
      for (const shards of [1, 2, 3, 4, 8]) {
        let next = 0;
        const sizes: number[] = [];
        for (let s = 0; s < shards; s++) {
          const { start, count } = shardRange(b, shards, s);
          expect(start).toBe(next);
          next += count;
          sizes.push(count);
        }
        expect(next).toBe(b);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });
});

/** The input stem cnn and resnet build: a bias-free 3x3 conv of 8 filters on 28x28x1, batch norm, ReLU. */
function addConvBnRelu(tf: typeof TF, model: TF.Sequential, seed: number): void {
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  model.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }));
  model.add(tf.layers.activation({ activation: 'relu' }));
}

describe('one shard', () => {
  it('applied at once (computeAndApply) updates exactly as one shard averaged and applied (compute)', async () => {
    const { tf } = await initTf('wasm');
    const build = () => {
      const model = tf.sequential();
      addConvBnRelu(tf, model, 5);
      model.add(tf.layers.flatten());
      model.add(tf.layers.dropout({ rate: 0.3 }));
      model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }));
      return model;
    };
    const data = fashionTrain(48);
    const y = Int32Array.from(data.y);
    const run = (direct: boolean): number[][] => {
      const model = build();
      const computer = new ShardComputer(tf, model, [28, 28, 1], 10, 0);
      const optimizer: TF.Optimizer = tf.train.adam(1e-2);
      const { trainable, state } = computer.layout;
      const out = new Float32Array(trainable + state);
      const before = new Float32Array(state);
      for (let step = 0; step < 3; step++) {
        const seeds = [100 + step];
        if (direct) {
          computer.computeAndApply(data.x, y, 48, seeds, optimizer);
          continue;
        }
        // What DataParallelStep did for every shard count: average (here of one shard), apply, set the statistics.
        computer.readState(before);
        computer.compute(data.x, y, 48, seeds, before, out);
        const sum = Float64Array.from(out, (v) => 0 + 1 * v);
        const grads = Object.fromEntries(computer.trainableVariables.map((v, i) => {
          const at = computer.layout.trainableOffsets[i]!;
          return [v.name, tf.tensor(Float32Array.from(sum.subarray(at, at + v.size)), v.shape)];
        }));
        optimizer.applyGradients(grads);
        tf.dispose(Object.values(grads));
        computer.setState(Float32Array.from(sum.subarray(trainable)));
      }
      const weights = model.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));
      optimizer.dispose();
      model.dispose();
      return weights;
    };
    const averaged = run(false);
    const direct = run(true);
    expect(direct.length).toBe(averaged.length);
    direct.forEach((w, i) => expect(w, `weight ${i}`).toEqual(averaged[i]));
    expect(direct.length).toBeGreaterThan(4); // kernel, gamma, beta, moving mean and variance, dense
  });
});

describe('convolutions that read the input', () => {
  it('are differentiated lazily: the same gradients bit for bit, without the images\' own gradient', async () => {
    const { tf } = await initTf('wasm');
    // conv (no bias) -> BN -> ReLU as cnn and resnet build it, then a second bias-free conv, which reads
    // an activation, not the input, so it is never switched.
    const build = () => {
      const model = tf.sequential();
      addConvBnRelu(tf, model, 7);
      model.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }));
      model.add(tf.layers.flatten());
      model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) }));
      return model;
    };
    const data = fashionTrain(16);
    const xs = tf.tensor4d(data.x, [16, 28, 28, 1]);
    const ys = tf.oneHot(tf.tensor1d(Array.from(data.y), 'int32'), 10);
    const gradients = async (model: TF.LayersModel) => {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- read() returns the variable itself, typed as a Tensor
      const trainable = model.trainableWeights.map((w) => w.read() as TF.Variable);
      let grads: TF.NamedTensorMap = {};
      const profile = await tf.profile(() => {
        grads = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as TF.Tensor) as TF.Scalar, trainable).grads;
      });
      const backpropInputs = profile.kernels.filter((k) => k.name === 'Conv2DBackpropInput').length;
      const out = trainable.map((v) => Array.from(new Uint32Array(Float32Array.from(grads[v.name]!.dataSync()).buffer)));
      tf.dispose(Object.values(grads));
      return { out, backpropInputs };
    };
    const stock = build();
    const lazy = build();
    const topology = JSON.stringify(lazy.toJSON(null, false));
    expect(differentiateInputConvsLazily(tf, lazy)).toBe(1);
    const want = await gradients(stock);
    const got = await gradients(lazy);
    got.out.forEach((g, i) => expect(g, `gradient ${i}`).toEqual(want.out[i]));
    // Only the second convolution's input gradient is still computed.
    expect(want.backpropInputs).toBe(2);
    expect(got.backpropInputs).toBe(1);
    // Inference through the switched layer gives the same outputs.
    const [pStock, pLazy] = [stock, lazy].map((m) => Array.from((m.predict(xs) as TF.Tensor).dataSync()));
    expect(pLazy).toEqual(pStock);
    // The saved topology is the layer's own; switching twice switches nothing more.
    expect(JSON.stringify(lazy.toJSON(null, false))).toBe(topology);
    expect(differentiateInputConvsLazily(tf, lazy)).toBe(0);
    // A first convolution with bias and ReLU is not fused in training, so there is nothing to switch.
    const plain = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, activation: 'relu' })] });
    expect(differentiateInputConvsLazily(tf, plain)).toBe(0);
    // A functional model (resnet's stem): the conv reading the input is switched, the later one is not.
    const input = tf.input({ shape: [28, 28, 1] });
    const stem = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }).apply(input) as TF.SymbolicTensor;
    const inner = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }).apply(stem) as TF.SymbolicTensor;
    const functional = tf.model({ inputs: input, outputs: inner });
    expect(differentiateInputConvsLazily(tf, functional)).toBe(1);
    tf.dispose([xs, ys]);
    [stock, lazy, plain, functional].forEach((m) => m.dispose());
  });
});

const compiled = (model: string): string => join(ROOT, 'dist', 'stages', 'models', `${model}.js`);

describe.skipIf(!existsSync(compiled('cnn')))('data-parallel training on helper threads', () => {
  const rows = fashionTrain(400);
  const data = rowsOf(rows, 0, 320);
  const val = rowsOf(rows, 320, 400);
  // A batch of 100 does not divide by 3 shards, and 320 rows leave a last batch of 20.
  const base: Params = { epochs: 2, batch_size: 100, seed: 3 };
  const fit = async (model: 'cnn' | 'resnet', params: Params, threads: number): Promise<{ trained: TrainedModel; logs: string[] }> => {
    const mod = (await import(pathToFileURL(compiled(model)).href)) as Record<string, ModelDefinition>;
    const logs: string[] = [];
    const ctx: FitContext = { signal: new AbortController().signal, progress: () => {}, log: (m) => logs.push(m), backend: 'wasm', threads };
    return { trained: await mod[model]!.fit(data, val, { ...base, ...params }, ctx), logs };
  };
  const probs = (t: TrainedModel): Promise<Float32Array> => t.predictProba(val.x, val.shape);
  /** sha256 of every file the train stage would write from `t` (model and checkpoint). */
  const savedFiles = async (t: TrainedModel): Promise<Record<string, string>> => {
    const dir = await mkdtemp(join(tmpdir(), 'pipe-dp-'));
    try {
      await t.save(dir);
      await t.saveCheckpoint?.(join(dir, 'checkpoint'));
      const out: Record<string, string> = {};
      for (const rel of await readdir(dir, { recursive: true })) {
        const bytes = await readFile(join(dir, rel)).catch(() => undefined);
        if (bytes) out[rel] = createHash('sha256').update(bytes).digest('hex');
      }
      return out;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('cnn (batch norm, dropout): 1, 2 and 3 threads give bit-identical weights and curves', async () => {
    const params = { filters: [8, 16], dense_units: 32, batch_shards: 3 };
    const one = await fit('cnn', params, 1);
    const two = await fit('cnn', params, 2);
    const three = await fit('cnn', params, 3);
    expect(two.logs.some((l) => l.includes('training on 2 threads'))).toBe(true);
    expect(two.trained.timings?.['threads']).toBe(2);
    expect(three.trained.timings?.['threads']).toBe(3);
    const p1 = await probs(one.trained);
    expect(await probs(two.trained)).toEqual(p1);
    expect(await probs(three.trained)).toEqual(p1);
    expect(two.trained.history).toEqual(one.trained.history);
    // And the same files: model.json records the dropout layers' last seeds, the checkpoint all state.
    const files = await Promise.all([one, two, three].map((f) => savedFiles(f.trained)));
    expect(files[1]).toEqual(files[0]);
    expect(files[2]).toEqual(files[0]);
    // More threads than shards: the extra ones have nothing to compute.
    const many = await fit('cnn', { ...params, batch_shards: 2 }, 8);
    expect(many.trained.timings?.['threads']).toBe(2);
  });

  it('a grant that changes mid-training (cores lent, then taken back) changes nothing but speed', async () => {
    const params = { filters: [8, 16], dense_units: 32, batch_shards: 2 };
    const steady = await fit('cnn', params, 1);
    const mod = (await import(pathToFileURL(compiled('cnn')).href)) as Record<string, ModelDefinition>;
    let reads = 0;
    // Read once per step: 1 thread, then 2 from the 2nd step, then 1 again from the 6th.
    const ctx: FitContext = {
      signal: new AbortController().signal,
      progress: () => {},
      log: () => {},
      backend: 'wasm',
      get threads() {
        reads++;
        return reads >= 3 && reads < 7 ? 2 : 1;
      },
    };
    const changing = await mod['cnn']!.fit(data, val, { ...base, ...params }, ctx);
    expect(changing.timings?.['threads']).toBe(2);
    expect(await probs(changing)).toEqual(await probs(steady.trained));
  });

  it('resnet (functional graph, batch norm statistics synchronised): 2 threads equal 1', async () => {
    const params = { width: 8, stages: 1, blocks_per_stage: 1, batch_shards: 2 };
    const one = await fit('resnet', params, 1);
    const two = await fit('resnet', params, 2);
    expect(two.trained.timings?.['threads']).toBe(2);
    expect(await probs(two.trained)).toEqual(await probs(one.trained));
  });

  it('label smoothing reaches the helper threads: 2 threads equal 1, and both differ from one-hot targets', async () => {
    const params = { filters: [8], dense_units: 16, batch_shards: 2 };
    const smoothOne = await fit('cnn', { ...params, label_smoothing: 0.1 }, 1);
    const smoothTwo = await fit('cnn', { ...params, label_smoothing: 0.1 }, 2);
    const plain = await fit('cnn', params, 2);
    expect(smoothTwo.trained.timings?.['threads']).toBe(2);
    const p1 = await probs(smoothOne.trained);
    expect(await probs(smoothTwo.trained)).toEqual(p1);
    expect(await probs(plain.trained)).not.toEqual(p1);
  });

  it('weight decay reaches every thread: the helpers start each step from the decayed weights, so 2 threads equal 1', async () => {
    const params = { filters: [8], dense_units: 16, batch_shards: 2 };
    const decayedOne = await fit('cnn', { ...params, weight_decay: 0.5 }, 1);
    const decayedTwo = await fit('cnn', { ...params, weight_decay: 0.5 }, 2);
    const plain = await fit('cnn', params, 1);
    expect(decayedTwo.trained.timings?.['threads']).toBe(2);
    const p1 = await probs(decayedOne.trained);
    expect(await probs(decayedTwo.trained)).toEqual(p1);
    expect(await probs(plain.trained)).not.toEqual(p1);
  });

  it('the shard count is part of the recipe: 1 shard (whole-batch statistics) trains differently from 2', async () => {
    const params = { filters: [8], dense_units: 16 };
    const whole = await fit('cnn', { ...params, batch_shards: 1 }, 1);
    const halves = await fit('cnn', { ...params, batch_shards: 2 }, 1);
    expect(await probs(halves.trained)).not.toEqual(await probs(whole.trained));
  });
});
