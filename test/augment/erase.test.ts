import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { erase } from '../../stages/models/tf/loop.js';
import { Rng } from '../../stages/models/tf/prng.js';
import { packageRoot } from '../../stages/schema.js';

// 64 real test images, scaled to [0,1] as the normalize stage does, as one NHWC batch.
const N = 64;
const raw = gunzipSync(readFileSync(join(packageRoot(), 'data/fashion-mnist/t10k-images-idx3-ubyte.gz'))).subarray(16, 16 + N * 784);
const batch = (): Float32Array => Float32Array.from(raw, (v) => v / 255);
const SHAPE = [28, 28, 1] as const;

/** The bounding box of the pixels erase changed in image i, and how many changed. */
function changedBox(before: Float32Array, after: Float32Array, i: number): { rows: number; cols: number; changed: number } | undefined {
  let [y0, y1, x0, x1, changed] = [28, -1, 28, -1, 0];
  for (let p = 0; p < 784; p++) {
    if (before[i * 784 + p] === after[i * 784 + p]) continue;
    changed++;
    const [y, x] = [Math.floor(p / 28), p % 28];
    [y0, y1, x0, x1] = [Math.min(y0, y), Math.max(y1, y), Math.min(x0, x), Math.max(x1, x)];
  }
  return changed ? { rows: y1 - y0 + 1, cols: x1 - x0 + 1, changed } : undefined;
}

describe('random erasing', () => {
  it('with p = 1 fills one rectangle of 2–40% of each image with noise inside the image value range', () => {
    const before = batch();
    const after = batch();
    erase(after, N, SHAPE, 1, new Rng(1));
    for (let i = 0; i < N; i++) {
      const box = changedBox(before, after, i);
      expect(box).toBeDefined();
      const { rows, cols, changed } = box!;
      // Noise may by chance equal a pixel it replaces, never more than a few of them.
      expect(changed).toBeGreaterThan(rows * cols * 0.9);
      // Rounding the sides moves the area a little off the drawn 2–40%.
      expect(rows * cols).toBeGreaterThanOrEqual(Math.floor(784 * 0.02) - 4);
      expect(rows * cols).toBeLessThanOrEqual(Math.ceil(784 * 0.4) + 30);
      const image = before.subarray(i * 784, (i + 1) * 784);
      const [lo, hi] = [Math.min(...image), Math.max(...image)];
      for (const v of after.subarray(i * 784, (i + 1) * 784)) expect(v >= lo && v <= hi).toBe(true);
    }
  });

  it('erases about a share p of the images, deterministically per seed', () => {
    const run = (seed: number): Float32Array => {
      const out = batch();
      erase(out, N, SHAPE, 0.5, new Rng(seed));
      return out;
    };
    const before = batch();
    const erased = Array.from({ length: N }, (_, i) => changedBox(before, run(3), i) !== undefined).filter(Boolean).length;
    expect(erased).toBeGreaterThan(N * 0.3);
    expect(erased).toBeLessThan(N * 0.7);
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
  });

  it('with p = 0 changes nothing', () => {
    const out = batch();
    erase(out, N, SHAPE, 0, new Rng(5));
    expect(out).toEqual(batch());
  });
});
