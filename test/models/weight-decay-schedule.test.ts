/**
 * The training loop hands weight decay each step's scheduled learning rate (not the base rate), and
 * every tfjs model wires it in: here the mlp, with a cosine schedule, on real Fashion-MNIST rows.
 * The real decay runs; the mock only records the rates it was given.
 */
import { describe, expect, it, vi } from 'vitest';
import type { FitContext } from '../../stages/models/types.js';
import type * as WeightDecay from '../../stages/models/tf/weight-decay.js';
import { fashionTrain } from './fashion.js';

const rates: number[] = [];
vi.mock('../../stages/models/tf/weight-decay.js', async (importOriginal) => {
  const real = await importOriginal<typeof WeightDecay>();
  return {
    ...real,
    decoupledWeightDecay: (...args: Parameters<typeof real.decoupledWeightDecay>) => {
      const step = real.decoupledWeightDecay(...args);
      return (
        step &&
        ((lr: number) => {
          rates.push(lr);
          step(lr);
        })
      );
    },
  };
});

const { mlp } = await import('../../stages/models/mlp.js');
const { learningRateAt, trainOptions, withDefaults } = await import('../../stages/models/tf/options.js');

describe('weight decay in the training loop', () => {
  it('gets every step its scheduled rate, and changes what the mlp learns', async () => {
    const data = fashionTrain(300, 'flat');
    const params = { hidden_layers: [16], epochs: 2, batch_size: 64, lr_schedule: 'cosine', seed: 1 };
    const ctx: FitContext = { signal: new AbortController().signal, progress: () => {}, log: () => {}, backend: 'wasm' };
    const decayed = await mlp.fit(data, undefined, { ...params, weight_decay: 0.5 }, ctx);
    const o = trainOptions(withDefaults(mlp.schema, { ...params, weight_decay: 0.5 }, mlp.params));
    const stepsPerEpoch = Math.ceil(300 / 64);
    expect(rates).toEqual(Array.from({ length: 2 * stepsPerEpoch }, (_, step) => learningRateAt(o, step, stepsPerEpoch)));
    // The rates fall (cosine), so a loop passing the base rate would fail the line above.
    expect(rates[rates.length - 1]).toBeLessThan(rates[0]! / 2);
    const plain = await mlp.fit(data, undefined, params, ctx);
    expect(rates).toHaveLength(2 * stepsPerEpoch);
    expect(await decayed.predictProba(data.x, data.shape)).not.toEqual(await plain.predictProba(data.x, data.shape));
  });

  it('refuses a learning rate and decay whose product would make the factor 1 − lr·λ zero or negative', async () => {
    const ctx: FitContext = { signal: new AbortController().signal, progress: () => {}, log: () => {}, backend: 'wasm' };
    await expect(mlp.fit(fashionTrain(10, 'flat'), undefined, { optimizer: 'sgd', learning_rate: 2, weight_decay: 0.6, epochs: 1 }, ctx)).rejects.toThrow(/weight_decay 0.6 × learning_rate 2 .*≤ 0/);
  });
});
