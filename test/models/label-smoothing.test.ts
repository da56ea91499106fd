/**
 * Label smoothing (the `label_smoothing` param of cnn, resnet, mlp and logistic-regression): the
 * training targets and the loss they give, against values computed by hand.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs';
import { initTf } from '../../stages/tf/backend.js';
import { crossEntropy, trainingTargets } from '../../stages/models/tf/shard.js';

let tf: typeof TF;
beforeAll(async () => {
  ({ tf } = await initTf('wasm'));
});

describe('trainingTargets', () => {
  it('puts 1 - epsilon + epsilon/K on the true class and epsilon/K on the others; rows still sum to 1', async () => {
    const targets = trainingTargets(tf, tf.tensor1d([2, 0], 'int32'), 4, 0.2);
    const rows = (await targets.array()) as number[][];
    expect(rows[0]![2]).toBeCloseTo(0.85, 6);
    expect(rows[0]![0]).toBeCloseTo(0.05, 6);
    expect(rows[1]![0]).toBeCloseTo(0.85, 6);
    for (const row of rows) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('at 0 is exactly one-hot, so trainings without smoothing keep their numbers', async () => {
    const targets = trainingTargets(tf, tf.tensor1d([1, 3], 'int32'), 4, 0);
    expect(await targets.array()).toEqual([
      [0, 1, 0, 0],
      [0, 0, 0, 1],
    ]);
  });
});

describe('crossEntropy with smoothed targets', () => {
  it('is the mean over rows of -sum(target * log p)', async () => {
    const probs = tf.tensor2d([
      [0.7, 0.2, 0.1],
      [0.1, 0.1, 0.8],
    ]);
    const eps = 0.3;
    const loss = await crossEntropy(tf, probs, trainingTargets(tf, tf.tensor1d([0, 1], 'int32'), 3, eps)).data();
    const t = (hit: boolean) => (hit ? 1 - eps + eps / 3 : eps / 3);
    const row0 = -(t(true) * Math.log(0.7) + t(false) * Math.log(0.2) + t(false) * Math.log(0.1));
    const row1 = -(t(false) * Math.log(0.1) + t(true) * Math.log(0.1) + t(false) * Math.log(0.8));
    expect(loss[0]).toBeCloseTo((row0 + row1) / 2, 5);
  });
});
