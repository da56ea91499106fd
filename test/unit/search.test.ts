import { describe, expect, it } from 'vitest';
import { checkSearch, sampleTrials, type RangeDimension, type SearchSpec } from '../../runner/config/search.js';

const range = (min: number, max: number, extra: Partial<RangeDimension> = {}): RangeDimension => ({ min, max, log: false, integer: false, ...extra });

const CNN: SearchSpec = {
  strategy: 'random',
  samples: 5,
  seed: 0,
  space: {
    learning_rate: range(0.0003, 0.01, { log: true }),
    dropout: range(0, 0.5),
    filters: range(16, 64, { integer: true }),
    batch_size: [64, 128, 256],
  },
};

describe('random search sampling', () => {
  it('pins the first 5 trials of seed 0: a change to the sampler or its rounding fails here', () => {
    expect(sampleTrials(CNN)).toEqual([
      { batch_size: 64, dropout: 0.1116, filters: 23, learning_rate: 0.001545 },
      { batch_size: 128, dropout: 0.3076, filters: 47, learning_rate: 0.001484 },
      { batch_size: 128, dropout: 0.1231, filters: 20, learning_rate: 0.007127 },
      { batch_size: 128, dropout: 0.3601, filters: 48, learning_rate: 0.005062 },
      { batch_size: 128, dropout: 0.2848, filters: 21, learning_rate: 0.0007007 },
    ]);
  });

  it('does not depend on the order of keys in the file; another seed gives other trials', () => {
    const reversed: SearchSpec = { ...CNN, space: Object.fromEntries(Object.entries(CNN.space).reverse()) };
    expect(sampleTrials(reversed)).toEqual(sampleTrials(CNN));
    expect(sampleTrials({ ...CNN, seed: 7 })).not.toEqual(sampleTrials(CNN));
  });

  it('keeps every earlier trial when samples grows (trial i never depends on samples)', () => {
    const first = sampleTrials({ ...CNN, samples: 27 }) ?? [];
    const more = sampleTrials({ ...CNN, samples: 40 }) ?? [];
    expect(first).toHaveLength(27);
    expect(more).toHaveLength(40);
    expect(more.slice(0, 27)).toEqual(first);
  });

  it('log-uniform samples stay in range and spread evenly over decades', () => {
    const trials = sampleTrials({ strategy: 'random', samples: 600, seed: 3, space: { lr: range(1e-5, 1e-1, { log: true }) } }) ?? [];
    const values = trials.map((t) => t['lr'] as number);
    expect(values.every((v) => v >= 1e-5 && v <= 1e-1)).toBe(true);
    // Four decades, about 150 each; a plain uniform draw would put ~90% in the top one.
    const perDecade = [0, 1, 2, 3].map((d) => values.filter((v) => v >= 10 ** (d - 5) && v < 10 ** (d - 4)).length);
    for (const n of perDecade) expect(n).toBeGreaterThan(100);
    // Rounded to 4 significant digits.
    expect(values.every((v) => Number(v.toPrecision(4)) === v)).toBe(true);
  });

  it('integer ranges include both ends; lists are a uniform choice of their values', () => {
    const trials = sampleTrials({ strategy: 'random', samples: 12, seed: 1, space: { filters: range(1, 4, { integer: true }), act: ['relu', 'tanh', 'elu'] } }) ?? [];
    expect(trials).toHaveLength(12); // all 4 × 3 points
    expect(new Set(trials.map((t) => t['filters']))).toEqual(new Set([1, 2, 3, 4]));
    expect(new Set(trials.map((t) => t['act']))).toEqual(new Set(['relu', 'tanh', 'elu']));
  });

  it('redraws duplicates, so samples: N gives N distinct trials; a smaller space is refused', () => {
    const spec: SearchSpec = { strategy: 'random', samples: 6, seed: 0, space: { a: [1, 2, 3], b: range(0, 1, { integer: true }) } };
    const trials = sampleTrials(spec) ?? [];
    expect(new Set(trials.map((t) => JSON.stringify(t))).size).toBe(6);
    expect(checkSearch(spec)).toEqual([]);
    expect(checkSearch({ ...spec, samples: 7 })).toEqual([expect.objectContaining({ path: ['samples'], message: 'search asks for 7 samples, but its space holds only 6 distinct trials' })]);
  });

  it('gives up, rather than looping, when rounding leaves a continuous range too few values', () => {
    expect(sampleTrials({ strategy: 'random', samples: 50, seed: 0, space: { x: range(1, 1.002) } })).toBeUndefined();
  });

  it('checks bounds the schema cannot: min > max, log with min <= 0, fractional integer bounds', () => {
    const problems = checkSearch({ strategy: 'random', samples: 1, seed: 0, space: { a: range(2, 1), b: range(0, 1, { log: true }), c: range(0.5, 3, { integer: true }) } });
    expect(problems.map((p) => p.path)).toEqual([
      ['space', 'a', 'min'],
      ['space', 'b', 'min'],
      ['space', 'c'],
    ]);
  });
});
