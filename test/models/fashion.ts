/**
 * The first `n` Fashion-MNIST training images of the shipped data, scaled to [0,1], for the model
 * tests that train on real rows (IDX files: a 16-byte image header, an 8-byte label header).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Dataset } from '../../stages/models/types.js';

const FASHION = join(import.meta.dirname, '../../data/fashion-mnist');

/** Rows of 784 pixels; `shape` says how the model reads them (flat or 28×28×1). */
export function fashionTrain(n: number, shape: 'flat' | 'image' = 'image'): Dataset {
  const img = gunzipSync(readFileSync(join(FASHION, 'train-images-idx3-ubyte.gz')));
  const lab = gunzipSync(readFileSync(join(FASHION, 'train-labels-idx1-ubyte.gz')));
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = img[16 + i]! / 255;
  return { x, shape: shape === 'flat' ? [n, 784] : [n, 28, 28, 1], y: Uint8Array.from(lab.subarray(8, 8 + n)), numClasses: 10 };
}
