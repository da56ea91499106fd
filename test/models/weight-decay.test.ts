/**
 * Decoupled weight decay (the `weight_decay` param of the tfjs models, stages/models/tf/weight-decay.ts):
 * which variables it shrinks, and by exactly how much.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs';
import { initTf } from '../../stages/tf/backend.js';
import { decayedVariables, decoupledWeightDecay } from '../../stages/models/tf/weight-decay.js';

let tf: typeof TF;
beforeAll(async () => {
  ({ tf } = await initTf('wasm'));
});

/** conv (kernel + bias) → batch norm (gamma, beta) → dense (kernel + bias): what cnn and resnet hold. */
function model(): TF.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: 'ones' }));
  m.add(tf.layers.batchNormalization({ gammaInitializer: tf.initializers.constant({ value: 1.5 }), betaInitializer: 'ones' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: 'ones' }));
  return m;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- read() returns the variable itself, typed as a Tensor (as in shard.ts)
const variablesOf = (m: TF.LayersModel): TF.Variable[] => m.trainableWeights.map((w) => w.read() as TF.Variable);

describe('decoupled weight decay', () => {
  it('shrinks the conv and dense kernels by exactly (1 - lr * lambda) and leaves biases and batch-norm vectors alone', () => {
    const m = model();
    const vars = variablesOf(m);
    expect(decayedVariables(vars).map((v) => v.shape)).toEqual([
      [3, 3, 1, 4],
      [64, 3],
    ]);
    const before = vars.map((v) => Float32Array.from(v.dataSync()));
    const lr = 1e-3;
    const lambda = 0.25;
    const step = decoupledWeightDecay(tf, vars, lambda)!;
    const tensorsBefore = tf.memory().numTensors;
    step(lr);
    step(lr / 2);
    // Assigning into the variables leaks nothing.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const factor = (r: number): number => Math.fround(1 - r * lambda);
    vars.forEach((v, i) => {
      const want = v.rank >= 2 ? before[i]!.map((x) => Math.fround(Math.fround(x * factor(lr)) * factor(lr / 2))) : before[i]!;
      expect(Array.from(v.dataSync()), v.name).toEqual(Array.from(want));
    });
    m.dispose();
  });

  it('is off at 0 (no step at all, so trainings without it keep their bits)', () => {
    const m = model();
    expect(decoupledWeightDecay(tf, variablesOf(m), 0)).toBeUndefined();
    m.dispose();
  });
});
