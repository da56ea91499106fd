/** `inspect`: shapes, dtype, range, mean/median/std, class counts, pixel histogram and a sample grid. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NpyArray } from '../artifacts/npy.js';
import { readFeatures, readLabels, splitsOf, writeArray } from './data/arrays.js';
import { loadSchema } from './schema.js';
import type { JsonValue, StageDefinition } from './types.js';
import { num, withDefaults } from './params.js';

export interface SplitStats {
  count: number;
  shape: number[];
  dtype: string;
  min: number;
  max: number;
  mean: number;
  median: number;
  std: number;
  class_counts: number[];
}

/** Exact statistics; for uint8 the median comes from the 256-bin histogram, so no sort is needed. */
export function pixelStats(x: NpyArray): { min: number; max: number; mean: number; median: number; std: number; histogram: number[] } {
  const data = x.data;
  let sum = 0;
  let sumSquares = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    sum += v;
    sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const n = data.length;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSquares / n - mean * mean));
  const histogram = new Array<number>(256).fill(0);
  let median: number;
  if (data instanceof Uint8Array) {
    for (let i = 0; i < n; i++) histogram[data[i] as number]! += 1;
    median = medianFromHistogram(histogram, n);
  } else {
    const width = max > min ? (max - min) / 256 : 1;
    for (let i = 0; i < n; i++) histogram[Math.min(255, Math.floor(((data[i] as number) - min) / width))]! += 1;
    const sorted = Float64Array.from(data).sort();
    median = n % 2 ? (sorted[(n - 1) / 2] as number) : ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2;
  }
  return { min, max, mean, median, std, histogram };
}

function medianFromHistogram(histogram: readonly number[], n: number): number {
  const valueAt = (rank: number): number => {
    let seen = 0;
    for (let v = 0; v < histogram.length; v++) {
      seen += histogram[v] ?? 0;
      if (seen > rank) return v;
    }
    return histogram.length - 1;
  };
  return n % 2 ? valueAt((n - 1) / 2) : (valueAt(n / 2 - 1) + valueAt(n / 2)) / 2;
}

const schema = loadSchema('stages/inspect');

export const inspect: StageDefinition = {
  kind: 'inspect',
  version: 1,
  description: 'Summary statistics, class counts, pixel histogram and sample images',
  inputs: [{ name: 'data', required: true, description: 'a dataset artifact (load, normalize, …)' }],
  schema,
  async run(ctx) {
    const data = ctx.inputs['data']!;
    const classes = JSON.parse(await readFile(data.path('classes.json'), 'utf8')) as string[];
    const perSample = num(withDefaults(schema, ctx.params, ['samples_per_class']), 'samples_per_class');
    const splits: Record<string, SplitStats> = {};
    let histogram: number[] = [];
    const samples: number[] = [];
    const sampleLabels: number[] = [];
    let sampleSource: NpyArray | undefined;
    for (const split of splitsOf(data)) {
      const x = await readFeatures(data, split);
      const y = await readLabels(data, split);
      const stats = pixelStats(x);
      const classCounts = new Array<number>(classes.length).fill(0);
      for (const label of y) classCounts[label]! += 1;
      splits[split] = { count: x.shape[0] ?? 0, shape: [...x.shape], dtype: x.dtype, min: stats.min, max: stats.max, mean: stats.mean, median: stats.median, std: stats.std, class_counts: classCounts };
      if (split === 'train') {
        histogram = stats.histogram;
        sampleSource = x;
        // First k images of each class, class-major: deterministic and cheap.
        for (let c = 0; c < classes.length; c++) {
          let taken = 0;
          for (let i = 0; i < y.length && taken < perSample; i++) if (y[i] === c) {
            samples.push(i);
            sampleLabels.push(c);
            taken++;
          }
        }
      }
      ctx.log(`${split}: ${x.shape.join('x')} ${x.dtype} mean ${stats.mean.toFixed(2)} median ${stats.median} std ${stats.std.toFixed(2)}`);
    }
    if (sampleSource && sampleSource.data instanceof Uint8Array) {
      const size = 784;
      const grid = new Uint8Array(samples.length * size);
      samples.forEach((index, k) => grid.set((sampleSource.data as Uint8Array).subarray(index * size, (index + 1) * size), k * size));
      await writeArray(ctx.outDir, 'samples.npy', grid, [samples.length, 28, 28]);
      await writeArray(ctx.outDir, 'sample_labels.npy', Uint8Array.from(sampleLabels), [sampleLabels.length]);
    }
    const stats = { classes, splits, histogram: { split: 'train', counts: histogram } };
    await writeFile(join(ctx.outDir, 'stats.json'), `${JSON.stringify(stats, null, 1)}\n`);
    const train = splits['train'];
    const metrics: Record<string, JsonValue> = train ? { train_mean: train.mean, train_median: train.median, train_std: train.std, train_count: train.count } : {};
    return { metrics };
  },
};
