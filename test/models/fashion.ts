/**
 * The first `n` Fashion-MNIST training images of the shipped data, scaled to [0,1], for the model
 * tests that train on real rows. The bytes go through the load stage's own IDX parsers, so a damaged
 * or swapped file fails here with that stage's message.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FILES } from '../../stages/data/fashion-mnist.js';
import { parseImages, parseLabels } from '../../stages/data/idx.js';
import type { Dataset } from '../../stages/models/types.js';

const FASHION = join(import.meta.dirname, '../../data/fashion-mnist');

/** Rows of 784 pixels; `shape` says how the model reads them (flat or 28×28×1). */
export function fashionTrain(n: number, shape: 'flat' | 'image' = 'image'): Dataset {
  const imagesFile = join(FASHION, `${FILES.train_images}.gz`);
  const labelsFile = join(FASHION, `${FILES.train_labels}.gz`);
  const { pixels } = parseImages(gunzipSync(readFileSync(imagesFile)), imagesFile);
  const labels = parseLabels(gunzipSync(readFileSync(labelsFile)), labelsFile, 10);
  const x = Float32Array.from(pixels.subarray(0, n * 784), (v) => v / 255);
  return { x, shape: shape === 'flat' ? [n, 784] : [n, 28, 28, 1], y: Uint8Array.from(labels.subarray(0, n)), numClasses: 10 };
}

/** Rows [from, to) of `data` as a view on its buffers; the models copy what they read. */
export function rowsOf(data: Dataset, from: number, to: number): Dataset {
  const [n = 0, ...sample] = data.shape;
  const width = data.x.length / n;
  return { ...data, x: data.x.subarray(from * width, to * width), shape: [to - from, ...sample], y: data.y.subarray(from, to) };
}
