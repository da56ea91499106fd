// A model plugin: each image goes to the class with the closest mean. No edit inside pipe's folders.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, ModelDefinition, TrainedModel } from '../../../stages/models/types.js';

const model = (means: number[][], temperature: number): TrainedModel => ({
  backend: 'js',
  async predictProba(x, shape) {
    const [n = 0, d = 0] = shape, k = means.length, out = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      const dist = means.map((m) => m.reduce((s, v, j) => s + (v - (x[i * d + j] ?? 0)) ** 2, 0));
      const e = dist.map((v) => Math.exp(-(v - Math.min(...dist)) / temperature)), z = e.reduce((a, b) => a + b);
      e.forEach((v, c) => (out[i * k + c] = v / z));
    }
    return out;
  },
  async save(dir) { writeFileSync(join(dir, 'centroids.json'), JSON.stringify({ means, temperature })); },
});

export const nearestCentroid: ModelDefinition = {
  name: 'nearest-centroid', version: 1, input: 'flat', description: 'Closest class mean (Euclidean)',
  schema: { type: 'object', additionalProperties: false, properties: { temperature: { type: 'number', exclusiveMinimum: 0, default: 0.1 } } },
  async fit(train: Dataset, _validation, params) {
    const d = train.shape[1] ?? 0, sums = Array.from({ length: train.numClasses }, () => new Array<number>(d).fill(0));
    const counts = new Array<number>(train.numClasses).fill(0);
    train.y.forEach((c, i) => { counts[c] = (counts[c] ?? 0) + 1; for (let j = 0; j < d; j++) sums[c]![j] = (sums[c]![j] ?? 0) + (train.x[i * d + j] ?? 0); });
    return model(sums.map((s, c) => s.map((v) => v / Math.max(1, counts[c] ?? 0))), Number(params['temperature']));
  },
  async load(dir) { const saved = JSON.parse(readFileSync(join(dir, 'centroids.json'), 'utf8')); return model(saved.means, saved.temperature); },
};
