/** Reading and writing the `x_<split>.npy` / `y_<split>.npy` arrays that data stages pass along. */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readNpy, writeNpy, type NpyArray, type NpyData } from '../../artifacts/npy.js';
import { StageInputError, type InputArtifact } from '../types.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** The splits an artifact carries (those with both x and y files). */
export function splitsOf(input: InputArtifact): SplitName[] {
  return SPLITS.filter((s) => input.has(`x_${s}.npy`) && input.has(`y_${s}.npy`));
}

export async function readFeatures(input: InputArtifact, split: SplitName): Promise<NpyArray> {
  return readNpy(input.path(`x_${split}.npy`));
}

export async function readLabels(input: InputArtifact, split: SplitName): Promise<Uint8Array> {
  const labels = await readNpy(input.path(`y_${split}.npy`));
  if (!(labels.data instanceof Uint8Array)) throw new StageInputError(`${input.stage}: y_${split}.npy must be uint8 labels, found ${labels.dtype}`);
  return labels.data;
}

export async function writeArray(outDir: string, name: string, data: NpyData, shape: readonly number[]): Promise<void> {
  const file = join(outDir, name);
  await mkdir(dirname(file), { recursive: true });
  await writeNpy(file, data, shape);
}

/** Copies files a transform does not change (labels, class names), so their hashes stay equal. */
export async function carry(input: InputArtifact, outDir: string, names: readonly string[]): Promise<void> {
  for (const name of names) if (input.has(name)) await copyFile(input.path(name), join(outDir, name));
}

export function labelFiles(input: InputArtifact): string[] {
  return [...splitsOf(input).map((s) => `y_${s}.npy`), 'classes.json'];
}

/** Applies `transform` to every split's features, carrying labels and class names unchanged. */
export async function mapFeatures(
  input: InputArtifact,
  outDir: string,
  transform: (x: NpyArray, split: SplitName) => { data: NpyData; shape: readonly number[] },
): Promise<Record<string, number[]>> {
  const shapes: Record<string, number[]> = {};
  for (const split of splitsOf(input)) {
    const result = transform(await readFeatures(input, split), split);
    await writeArray(outDir, `x_${split}.npy`, result.data, result.shape);
    shapes[split] = [...result.shape];
  }
  await carry(input, outDir, labelFiles(input));
  return shapes;
}

/** Features from `file` as float32 (float64 is converted); raw uint8 pixels need a `normalize` stage first. */
export async function readFloatFeatures(input: InputArtifact, file: string, reader: string): Promise<{ x: Float32Array; shape: readonly number[] }> {
  const arr = await readNpy(input.path(file));
  if (arr.data instanceof Float32Array) return { x: arr.data, shape: arr.shape };
  if (arr.data instanceof Float64Array) return { x: Float32Array.from(arr.data), shape: arr.shape };
  throw new StageInputError(`${input.stage}/${file} is ${arr.dtype}; ${reader} needs float32 features in [0,1]: add a \`normalize\` stage before it`);
}

/**
 * Class indices from a 1-D array file (`y_<split>.npy`, `predictions.npy`) of any numeric dtype,
 * checked to have `n` entries that are integers in 0..255.
 */
export async function readClassIndices(input: InputArtifact, file: string, n: number): Promise<Uint8Array> {
  const arr = await readNpy(input.path(file));
  if (arr.shape.length !== 1 || arr.shape[0] !== n) {
    throw new StageInputError(`${input.stage}/${file} has shape [${arr.shape.join(',')}] but the features have ${n} rows`);
  }
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = arr.data[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new StageInputError(`${input.stage}/${file}[${i}] = ${v} is not a class index (0..255)`);
    y[i] = v;
  }
  return y;
}

/** Names of classes 0..k-1 from the artifact's classes.json; the index as text for any it does not name. */
export async function classNames(input: InputArtifact, k: number): Promise<string[]> {
  const names: unknown = input.has('classes.json') ? JSON.parse(await readFile(input.path('classes.json'), 'utf8')) : [];
  const list: unknown[] = Array.isArray(names) ? names : [];
  return Array.from({ length: k }, (_, i) => (typeof list[i] === 'string' ? (list[i]) : String(i)));
}

/**
 * The [lo, hi] span of pixels that should lie in [0,1] (the `normalize` method `scale`), when some do
 * not (beyond float rounding); undefined when all do. Stages that draw on images (augment,
 * robustness) need a fixed black and white, and name the file and the fix in their own words.
 */
export function outsideUnitRange(x: Float32Array): [number, number] | undefined {
  const [lo, hi] = valueRange(x);
  return lo < -1e-6 || hi > 1 + 1e-6 ? [lo, hi] : undefined;
}

/** The smallest and largest value of x ([Infinity, -Infinity] when empty). */
export function valueRange(x: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
