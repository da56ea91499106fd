/**
 * Benchmark of the classical models on the full Fashion-MNIST split (60k train, 10k test rows,
 * flattened, x/255), each with its default params.
 *
 *   npx tsc -p . && node dist/bench/classical.js [knn|random-forest|svm ...]
 *
 * fit_s includes PCA where a model uses it; predict_s is predictProba on the 10k test rows.
 * Timings are wall clock and sensitive to other load on the machine. Run from dist/ so the forest
 * and svm worker threads are used (from .ts sources they fall back to one thread).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { argmaxRows } from '../stages/evaluate/metrics.js';
import { knn } from '../stages/models/knn.js';
import { randomForest } from '../stages/models/random-forest.js';
import { svm } from '../stages/models/svm.js';
import type { Dataset, ModelDefinition } from '../stages/models/types.js';
import { packageRoot } from '../stages/schema.js';

export interface ClassicalFigures {
  test_accuracy: number;
  fit_s: number;
  predict_s: number;
}

export const CLASSICAL_MODELS: Record<string, ModelDefinition> = { knn, 'random-forest': randomForest, svm };

function loadSplit(prefix: 'train' | 't10k'): Dataset {
  const dir = process.env['FASHION_MNIST_DIR'] ?? join(packageRoot(), 'data', 'fashion-mnist');
  const images = gunzipSync(readFileSync(join(dir, `${prefix}-images-idx3-ubyte.gz`)));
  const labels = gunzipSync(readFileSync(join(dir, `${prefix}-labels-idx1-ubyte.gz`)));
  const n = images.readUInt32BE(4);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = images[16 + i]! / 255;
  return { x, shape: [n, 784], y: Uint8Array.from(labels.subarray(8, 8 + n)), numClasses: 10 };
}

function accuracy(p: Float32Array, y: Uint8Array, c: number): number {
  const predicted = argmaxRows(p, y.length, c);
  return predicted.reduce((right, label, i) => right + (label === y[i] ? 1 : 0), 0) / y.length;
}

export async function benchClassical(names: readonly string[] = Object.keys(CLASSICAL_MODELS)): Promise<Record<string, ClassicalFigures>> {
  const train = loadSplit('train');
  const test = loadSplit('t10k');
  const out: Record<string, ClassicalFigures> = {};
  for (const name of names) {
    const def = CLASSICAL_MODELS[name];
    if (!def) throw new Error(`unknown classical model ${name}; known: ${Object.keys(CLASSICAL_MODELS).join(', ')}`);
    const t0 = performance.now();
    const model = await def.fit(train, undefined, {}, {
      signal: new AbortController().signal,
      progress: () => {},
      log: (m) => console.error(`  ${m}`),
    });
    const t1 = performance.now();
    const p = await model.predictProba(test.x, test.shape);
    const t2 = performance.now();
    out[name] = {
      test_accuracy: accuracy(p, test.y, test.numClasses),
      fit_s: Number(((t1 - t0) / 1000).toFixed(2)),
      predict_s: Number(((t2 - t1) / 1000).toFixed(2)),
    };
    model.dispose?.();
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const names = process.argv.slice(2);
  const results = await benchClassical(names.length > 0 ? names : undefined);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(14)} accuracy ${r.test_accuracy.toFixed(4)}  fit ${r.fit_s.toFixed(1)} s  predict ${r.predict_s.toFixed(1)} s  total ${(r.fit_s + r.predict_s).toFixed(1)} s`);
  }
}
