/**
 * The closed error taxonomy: each user-caused condition known in the stages, the store and the
 * CLI is fed for real and must surface as a UserError with its literal reason (what the executor
 * records and the CLI maps to an exit code), never as a plain Error reported as an internal bug.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock } from '../../artifacts/lock.js';
import { decodeNpy, encodeNpy } from '../../artifacts/npy.js';
import { parseCount } from '../../runner/cli/numbers.js';
import { loadPipeline } from '../../runner/config/load.js';
import { errorInfo } from '../../runner/execute/error-info.js';
import { ERROR_REASONS, UserError, type ErrorReason } from '../../stages/errors.js';
import { argmaxRows } from '../../stages/evaluate/metrics.js';
import { loadForest } from '../../stages/models/forest/format.js';
import { getModel } from '../../stages/models/index.js';
import { checkModelInput } from '../../stages/models/input-shape.js';
import { fitPca, fitPcaParam } from '../../stages/models/pca.js';
import type { Dataset, FitContext } from '../../stages/models/types.js';

const ctx: FitContext = { signal: new AbortController().signal, progress: () => {}, log: () => {}, backend: 'cpu' };

/** Rows of `d` features whose labels are `labels` (cycled). */
function data(n: number, d: number, labels: readonly number[] = [0, 1]): Dataset {
  const x = new Float32Array(n * d).map((_, i) => ((i * 7919) % 97) / 97);
  return { x, shape: [n, d], y: Uint8Array.from({ length: n }, (_, i) => labels[i % labels.length]!), numClasses: 2 };
}

async function reasonOf(action: () => unknown): Promise<ErrorReason | 'internal' | 'no error'> {
  try {
    await action();
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(UserError);
    return errorInfo(error).reason;
  }
  return 'no error';
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'pipe-errors-'));
});
afterAll(async () => rm(tmp, { recursive: true, force: true }));

describe('user-caused conditions carry a typed reason', () => {
  it('PCA with more components than dimensions (pca stage and the svm/knn pca param)', async () => {
    expect(await reasonOf(() => fitPca(data(10, 4).x, 10, 4, 5, { backend: 'cpu' }))).toBe('stage-input');
    expect(await reasonOf(() => fitPcaParam(data(10, 4).x, 10, 4, 5, {}))).toBe('stage-input');
  });

  it('knn with k larger than the training rows', async () => {
    expect(await reasonOf(() => getModel('knn').fit(data(6, 4), undefined, { k: 7, pca: 0 }, ctx))).toBe('stage-input');
  });

  it('svm given a single class', async () => {
    expect(await reasonOf(() => getModel('svm').fit(data(6, 4, [3]), undefined, { pca: 0 }, ctx))).toBe('stage-input');
  });

  it('classical models given image-shaped features, and a model asked about other dimensions than it learnt', async () => {
    const images: Dataset = { ...data(4, 784), shape: [4, 28, 28, 1] };
    for (const name of ['knn', 'svm', 'random-forest']) expect(await reasonOf(() => getModel(name).fit(images, undefined, { pca: 0 }, ctx)), name).toBe('stage-input');
    const forest = await getModel('random-forest').fit(data(20, 4), undefined, { trees: 2 }, ctx);
    expect(await reasonOf(() => forest.predictProba(new Float32Array(6), [2, 3]))).toBe('stage-input');
  });

  it('tfjs models given features that do not match their shape or labels', async () => {
    const bad: Dataset = { ...data(4, 8), y: new Uint8Array(3) };
    expect(await reasonOf(() => getModel('mlp').fit(bad, undefined, {}, ctx))).toBe('stage-input');
  });

  it('a model given the other input kind: the one shape rule, with the hint of the stage that checks', async () => {
    const fix = { image: 'add a `reshape` stage', flat: 'add a `flatten` stage' };
    expect(await reasonOf(() => checkModelInput({ name: 'cnn', input: 'image' }, 'x_train.npy', [10, 784], fix))).toBe('stage-input');
    expect(() => checkModelInput({ name: 'cnn', input: 'image' }, 'x_train.npy', [10, 784], fix)).toThrow('model "cnn" needs images shaped [N,28,28,1] but x_train.npy is [10,784]; add a `reshape` stage');
    expect(() => checkModelInput({ name: 'svm', input: 'flat' }, 'x_test.npy', [10, 28, 28, 1], fix)).toThrow('needs flat features shaped [N,D] but x_test.npy is [10,28,28,1]; add a `flatten` stage');
    expect(() => checkModelInput({ name: 'mlp', input: 'flat' }, 'x', [10, 784], fix)).not.toThrow();
  });

  it('an unknown model name, more than 256 classes', async () => {
    expect(await reasonOf(() => getModel('cnnn'))).toBe('stage-input');
    expect(await reasonOf(() => argmaxRows(new Float32Array(300), 1, 300))).toBe('stage-input');
  });

  it('damaged saved files: .npy and a model directory of another format', async () => {
    const npy = encodeNpy(new Float32Array([1, 2]), [2]);
    expect(await reasonOf(() => decodeNpy(npy.subarray(0, npy.length - 1), 'x.npy'))).toBe('npy-format');
    await writeFile(join(tmp, 'forest.json'), JSON.stringify({ format: 'something-else' }));
    expect(await reasonOf(() => loadForest(tmp))).toBe('model-files');
  });

  it('a store held by a live process is "store-busy"', async () => {
    const root = join(tmp, 'store');
    await mkdir(root);
    // `gc` holds the store's one exclusive lease; a second collector finds it busy.
    const held = await acquireLock(root, 'pipe gc');
    expect(await reasonOf(() => acquireLock(root, 'second'))).toBe('store-busy');
    await held.release();
  });

  it('a bad number on the command line is "usage"; a bad pipeline file is "pipeline-invalid"', async () => {
    expect(await reasonOf(() => parseCount('abc', '--jobs', 1))).toBe('usage');
    const file = join(tmp, 'bad.yaml');
    await writeFile(file, 'stages:\n  load: { kind: load, params: { __proto__: 1 } }\n');
    expect(await reasonOf(() => loadPipeline(file, { isManyInput: () => false }))).toBe('pipeline-invalid');
  });

  it('the set of reasons is closed and every plain bug stays "internal"', () => {
    expect(new Set(ERROR_REASONS).size).toBe(ERROR_REASONS.length);
    expect(errorInfo(new TypeError('x is undefined')).reason).toBe('internal');
    // A plain Error that happens to carry a `reason` string is not trusted as user-facing any more.
    expect(errorInfo(Object.assign(new Error('boom'), { reason: 'stage-input' })).reason).toBe('internal');
  });
});
