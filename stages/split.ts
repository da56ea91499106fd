/** `split`: stratified, seeded train/validation split of the training set; the test set passes through untouched. */
import type { NpyData } from '../artifacts/npy.js';
import { carry, readFeatures, readLabels, writeArray } from './data/arrays.js';
import { loadSchema } from './schema.js';
import { StageInputError, type StageDefinition } from './types.js';
import { mulberry32, shuffle } from './util/random.js';
import { num, withDefaults } from './params.js';

/** Validation indices (sorted): per class, a seeded shuffle and the first share of it. */
export function stratifiedValidation(labels: Uint8Array, validation: number, seed: number, stratify: boolean): Int32Array {
  const n = labels.length;
  const wanted = validation < 1 ? Math.round(n * validation) : Math.min(n - 1, Math.floor(validation));
  const random = mulberry32(seed);
  const picked: number[] = [];
  if (!stratify) {
    const all = Array.from({ length: n }, (_, i) => i);
    shuffle(all, random);
    picked.push(...all.slice(0, wanted));
  } else {
    const byClass = new Map<number, number[]>();
    labels.forEach((label, i) => byClass.set(label, [...(byClass.get(label) ?? []), i]));
    // Largest-remainder rounding keeps the total exactly `wanted` while each class gets its share.
    const classes = [...byClass.keys()].sort((a, b) => a - b);
    const quotas = classes.map((c) => ((byClass.get(c)?.length ?? 0) * wanted) / n);
    const counts = quotas.map(Math.floor);
    let left = wanted - counts.reduce((a, b) => a + b, 0);
    const order = quotas.map((q, i) => [q - Math.floor(q), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, i] of order) if (left-- > 0) counts[i]! += 1;
    classes.forEach((c, i) => {
      const members = byClass.get(c) ?? [];
      shuffle(members, random);
      picked.push(...members.slice(0, counts[i]));
    });
  }
  return Int32Array.from(picked.sort((a, b) => a - b));
}

function take(data: NpyData, rowSize: number, rows: ArrayLike<number>): NpyData {
  const out = new (data.constructor as new (n: number) => NpyData)(rows.length * rowSize);
  for (let r = 0; r < rows.length; r++) out.set(data.subarray((rows[r] as number) * rowSize, ((rows[r] as number) + 1) * rowSize), r * rowSize);
  return out;
}

const schema = loadSchema('stages/split');

export const split: StageDefinition = {
  kind: 'split',
  version: 1,
  description: 'Stratified train/validation split with a seed (test set untouched)',
  inputs: [{ name: 'data', required: true, description: 'a dataset artifact with x_train/y_train' }],
  schema,
  async run(ctx) {
    const data = ctx.inputs['data']!;
    if (data.has('x_val.npy')) throw new StageInputError(`stage ${data.stage} is already split; split once`);
    const x = await readFeatures(data, 'train');
    const y = await readLabels(data, 'train');
    const p = withDefaults(schema, ctx.params, ['validation', 'seed']);
    const validation = num(p, 'validation');
    const seed = num(p, 'seed');
    const valIndices = stratifiedValidation(y, validation, seed, ctx.params['stratify'] !== false);
    const isVal = new Uint8Array(y.length);
    for (const i of valIndices) isVal[i] = 1;
    const trainIndices = Int32Array.from({ length: y.length - valIndices.length });
    let k = 0;
    for (let i = 0; i < y.length; i++) if (!isVal[i]) trainIndices[k++] = i;
    const rowSize = x.data.length / Math.max(1, y.length);
    const rest = x.shape.slice(1);
    await writeArray(ctx.outDir, 'x_train.npy', take(x.data, rowSize, trainIndices), [trainIndices.length, ...rest]);
    await writeArray(ctx.outDir, 'y_train.npy', take(y, 1, trainIndices), [trainIndices.length]);
    await writeArray(ctx.outDir, 'x_val.npy', take(x.data, rowSize, valIndices), [valIndices.length, ...rest]);
    await writeArray(ctx.outDir, 'y_val.npy', take(y, 1, valIndices), [valIndices.length]);
    await writeArray(ctx.outDir, 'val_indices.npy', valIndices, [valIndices.length]);
    await carry(data, ctx.outDir, ['x_test.npy', 'y_test.npy', 'classes.json']);
    return { metrics: { train_count: trainIndices.length, val_count: valIndices.length, seed } };
  },
};
