/**
 * Classical models (knn, random-forest, svm) and PCA on a small slice of the real Fashion-MNIST
 * files: accuracy well above chance (0.1), determinism, save/load round trips, schema bounds.
 * Under vitest the worker scripts do not exist next to the .ts sources, so forest and svm train
 * in-thread here; the compiled worker path is checked against it when dist/ is built.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knn } from '../../stages/models/knn.js';
import { fitPca, loadPca, pcaInverse, pcaTransform, savePca, topEigenpairs } from '../../stages/models/pca.js';
import { randomForest } from '../../stages/models/random-forest.js';
import { svm } from '../../stages/models/svm.js';
import type { Dataset, FitContext, ModelDefinition } from '../../stages/models/types.js';
import { packageRoot } from '../../stages/schema.js';
import type { Params } from '../../stages/types.js';

const DIR = join(packageRoot(), 'data', 'fashion-mnist');

function loadSlice(prefix: 'train' | 't10k', skip: number, count: number): Dataset {
  const images = gunzipSync(readFileSync(join(DIR, `${prefix}-images-idx3-ubyte.gz`)));
  const labels = gunzipSync(readFileSync(join(DIR, `${prefix}-labels-idx1-ubyte.gz`)));
  const x = new Float32Array(count * 784);
  for (let i = 0; i < x.length; i++) x[i] = images[16 + skip * 784 + i]! / 255;
  return { x, shape: [count, 784], y: Uint8Array.from(labels.subarray(8 + skip, 8 + skip + count)), numClasses: 10 };
}

const train = loadSlice('train', 0, 1000);
const test = loadSlice('t10k', 0, 300);

function ctx(events: string[] = []): FitContext {
  return {
    signal: new AbortController().signal,
    progress: (done, total, label) => events.push(`${label ?? ''} ${done}/${total}`),
    log: () => {},
  };
}

function accuracy(p: Float32Array, y: Uint8Array): number {
  let right = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (p[i * 10 + c]! > p[i * 10 + best]!) best = c;
    if (best === y[i]) right++;
  }
  return right / y.length;
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'pipe-classical-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const cases: [ModelDefinition, Params][] = [
  [knn, { k: 5, pca: 30 }],
  [knn, { k: 3, pca: 0, weights: 'distance' }],
  [randomForest, { trees: 15, seed: 3 }],
  [svm, { pca: 30 }],
  [svm, { kernel: 'linear', C: 0.1, pca: 20 }],
];

describe('classical models', () => {
  it.each(cases.map(([def, params]) => [`${def.name} ${JSON.stringify(params)}`, def, params] as const))('%s: learns, is deterministic, reloads identically', async (_name, def, params) => {
    const events: string[] = [];
    const model = await def.fit(train, undefined, params, ctx(events));
    const p = await model.predictProba(test.x, test.shape);
    expect(p.length).toBe(300 * 10);
    for (let i = 0; i < 300; i += 37) {
      const row = p.subarray(i * 10, i * 10 + 10);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
    }
    expect(accuracy(p, test.y)).toBeGreaterThan(0.6);

    const again = await def.fit(train, undefined, params, ctx());
    expect(await again.predictProba(test.x, test.shape)).toEqual(p);

    const dir = join(tmp, `${def.name}-${events.length}-${Math.random().toString(36).slice(2)}`);
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await model.save(dir);
    const loaded = await def.load(dir);
    expect(await loaded.predictProba(test.x, test.shape)).toEqual(p);
  });
});

describe('random-forest', () => {
  it('reports progress per tree and different seeds give different forests', async () => {
    const events: string[] = [];
    const a = await randomForest.fit(train, undefined, { trees: 4, seed: 1 }, ctx(events));
    expect(events).toEqual(['trees 0/4', 'trees 1/4', 'trees 2/4', 'trees 3/4', 'trees 4/4']);
    const b = await randomForest.fit(train, undefined, { trees: 4, seed: 2 }, ctx());
    expect(await a.predictProba(test.x, test.shape)).not.toEqual(await b.predictProba(test.x, test.shape));
  });

  it('bins features outside [0,1] (e.g. PCA scores) by their training range, and reloads that range', async () => {
    // An affine map per feature changes nothing for a tree when bins follow each feature's range.
    const shift = (d: Dataset): Dataset => ({ ...d, x: d.x.map((v, i) => v * 0.01 + 3 + (i % 784) * 0.001) });
    const params = { trees: 8, seed: 4 };
    const raw = await randomForest.fit(train, undefined, params, ctx());
    const moved = await randomForest.fit(shift(train), undefined, params, ctx());
    const pRaw = accuracy(await raw.predictProba(test.x, test.shape), test.y);
    const pMoved = await moved.predictProba(shift(test).x, test.shape);
    // Clamping to [0,1] (the old behaviour) put every value of this data into the last bin: chance level.
    expect(accuracy(pMoved, test.y)).toBeGreaterThan(pRaw - 0.05);
    const dir = join(tmp, 'forest-range');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await moved.save(dir);
    expect(JSON.parse(readFileSync(join(dir, 'forest.json'), 'utf8'))).toHaveProperty('feature_min');
    expect(await (await randomForest.load(dir)).predictProba(shift(test).x, test.shape)).toEqual(pMoved);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(randomForest.fit(train, undefined, { trees: 3 }, { ...ctx(), signal: controller.signal })).rejects.toThrow('cancelled');
  });

  // The compiled build (test/global-setup.ts) has the worker scripts: threads must not change results.
  const compiled = join(packageRoot(), 'dist', 'stages', 'models', 'random-forest.js');
  it.skipIf(!existsSync(compiled))('gives the same forest on 2 worker threads as in-thread', async () => {
    const mod = (await import(pathToFileURL(compiled).href)) as { randomForest: ModelDefinition };
    const params = { trees: 6, seed: 5 };
    const threaded = await mod.randomForest.fit(train, undefined, params, { ...ctx(), threads: 2 });
    expect(threaded.info?.['threads']).toBe(2);
    const local = await randomForest.fit(train, undefined, params, ctx());
    expect(await threaded.predictProba(test.x, test.shape)).toEqual(await local.predictProba(test.x, test.shape));
  });
});

describe('svm on worker threads', () => {
  const compiled = join(packageRoot(), 'dist', 'stages', 'models', 'svm.js');
  it.skipIf(!existsSync(compiled))('gives the same model on 2 worker threads as in-thread', async () => {
    const mod = (await import(pathToFileURL(compiled).href)) as { svm: ModelDefinition };
    const threaded = await mod.svm.fit(train, undefined, { pca: 20 }, { ...ctx(), threads: 2 });
    expect(threaded.info?.['threads']).toBe(2);
    const local = await svm.fit(train, undefined, { pca: 20 }, ctx());
    expect(threaded.info?.['n_support_vectors']).toBe(local.info?.['n_support_vectors']);
    const a = await threaded.predictProba(test.x, test.shape);
    const b = await local.predictProba(test.x, test.shape);
    // Separate tfjs instances (dist vs sources) may differ in the last float bit; the votes may not.
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 5);
  });
});

describe('pca', () => {
  it('finds orthonormal components, reconstructs, and round-trips through files', async () => {
    const n = 1000;
    const small = await fitPca(train.x, n, 784, 20);
    const big = await fitPca(train.x, n, 784, 100);
    // Leading eigenvalues agree whatever k (subspace iteration converged), and decrease.
    for (let j = 0; j < 20; j++) expect(small.explainedVariance[j]).toBeCloseTo(big.explainedVariance[j]!, 6);
    for (let j = 1; j < 100; j++) expect(big.explainedVariance[j]).toBeLessThanOrEqual(big.explainedVariance[j - 1]! * (1 + 1e-9));
    for (const [a, b] of [[0, 0], [0, 1], [5, 17]] as const) {
      let dot = 0;
      for (let r = 0; r < 784; r++) dot += small.components[a * 784 + r]! * small.components[b * 784 + r]!;
      expect(dot).toBeCloseTo(a === b ? 1 : 0, 5);
    }
    // Reconstruction error = the variance left out; more components, less error.
    const err = async (k: number): Promise<number> => {
      const p = k === 20 ? small : big;
      const rec = pcaInverse(p, await pcaTransform(p, train.x, n), n);
      let e = 0;
      let v = 0;
      for (let i = 0; i < n * 784; i++) {
        e += (rec[i]! - train.x[i]!) ** 2;
        v += (train.x[i]! - p.mean[i % 784]!) ** 2;
      }
      return e / v;
    };
    const e20 = await err(20);
    const e100 = await err(100);
    expect(e20).toBeCloseTo(1 - small.explainedVarianceRatio.reduce((a, b) => a + b, 0), 2);
    expect(e100).toBeLessThan(e20);
    expect(e100).toBeLessThan(0.15);

    const dir = join(tmp, 'pca');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await savePca(dir, small);
    const back = await loadPca(dir);
    expect(await pcaTransform(back, test.x, 300)).toEqual(await pcaTransform(small, test.x, 300));
  });

  it('subspace iteration matches the full eigen-decomposition', () => {
    // Symmetric PSD test matrix with a known, decaying spectrum.
    const d = 60;
    const c = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) c[i * d + j] = Math.exp(-Math.abs(i - j) / 4) + (i === j ? 0.01 : 0);
    const fast = topEigenpairs(c, d, 5, 0); // 5·3 ≤ 60: subspace iteration
    const full = topEigenpairs(c, d, 30, 0); // full EVD path
    for (let j = 0; j < 5; j++) expect(fast.values[j]).toBeCloseTo(full.values[j]!, 8);
  });
});

describe('schemas', () => {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const valid = (def: ModelDefinition, params: Record<string, unknown>): boolean => ajv.validate(def.schema, { ...params });

  it('accept the defaults and reject out-of-range or unknown params', () => {
    for (const def of [knn, randomForest, svm]) {
      expect(valid(def, {})).toBe(true);
      expect(valid(def, { no_such_param: 1 })).toBe(false);
    }
    expect(valid(knn, { k: 0 })).toBe(false);
    expect(valid(knn, { k: -3 })).toBe(false);
    expect(valid(knn, { k: 2.5 })).toBe(false);
    expect(valid(knn, { weights: 'cosine' })).toBe(false);
    expect(valid(knn, { pca: -1 })).toBe(false);
    expect(valid(randomForest, { trees: 0 })).toBe(false);
    expect(valid(randomForest, { max_features: 'half' })).toBe(false);
    expect(valid(randomForest, { max_features: 0 })).toBe(false);
    expect(valid(randomForest, { max_features: 'log2', bins: 64, max_depth: 12 })).toBe(true);
    expect(valid(randomForest, { bins: 1 })).toBe(false);
    expect(valid(svm, { kernel: 'laplacian' })).toBe(false);
    expect(valid(svm, { C: 0 })).toBe(false);
    expect(valid(svm, { gamma: 0 })).toBe(false);
    expect(valid(svm, { gamma: 'auto', kernel: 'poly', degree: 2 })).toBe(true);
  });

  it('fill in defaults that meet the targets', () => {
    const p: Record<string, unknown> = {};
    ajv.validate(knn.schema, p);
    expect(p).toEqual({ k: 5, weights: 'uniform', pca: 100 });
  });
});
