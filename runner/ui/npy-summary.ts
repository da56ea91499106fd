/** Shape, dtype and summary statistics of a `.npy` artifact file, for the stage panel's preview. */
import { readNpy, readNpyHeader } from '../../artifacts/npy.js';
import type { NpySummary } from './api-types.js';

/** Larger arrays get shape and dtype only: scanning hundreds of MB is not worth a preview's wait. */
const STATS_LIMIT_BYTES = 64 * 1024 * 1024;

export async function npySummary(path: string, bytes: number): Promise<NpySummary> {
  if (bytes > STATS_LIMIT_BYTES) return readNpyHeader(path);
  const array = await readNpy(path);
  const data = array.data;
  if (!data.length) return { dtype: array.dtype, shape: array.shape };
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    squares += v * v;
  }
  const mean = sum / data.length;
  return { dtype: array.dtype, shape: array.shape, stats: { min, max, mean, std: Math.sqrt(Math.max(0, squares / data.length - mean * mean)) } };
}
