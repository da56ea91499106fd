/** The evaluate stage end to end, with a fake model in place of the registry (no tfjs needed). */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { contentHash } from '../../artifacts/hash.js';
import { readNpy, writeNpy } from '../../artifacts/npy.js';
import type { ModelDefinition, TrainedModel } from '../../stages/models/types.js';
import type { StageContext } from '../../stages/types.js';
import { artifact } from '../report/fixtures.js';

const calls: number[][] = [];

/** Predicts class round(x[0] * 3) with probability 0.7, the others share the rest: k = 3 classes. */
const fake: ModelDefinition = {
  name: 'fake',
  version: 1,
  description: 'test double',
  input: 'flat',
  schema: {},
  params: [],
  fit: () => Promise.reject(new Error('not used')),
  async load(dir: string): Promise<TrainedModel> {
    const saved = JSON.parse(await readFile(join(dir, 'w.json'), 'utf8')) as { k: number };
    return {
      backend: 'js',
      save: () => Promise.resolve(),
      async predictProba(x, shape) {
        calls.push([...shape]);
        const n = shape[0]!;
        const d = shape[1]!;
        const out = new Float32Array(n * saved.k);
        for (let i = 0; i < n; i++) {
          const c = Math.min(saved.k - 1, Math.round(x[i * d]! * 3));
          for (let j = 0; j < saved.k; j++) out[i * saved.k + j] = j === c ? 0.7 : 0.3 / (saved.k - 1);
        }
        return out;
      },
    };
  },
};

vi.mock('../../stages/models/index.js', () => ({ getModel: () => fake }));

const { evaluate } = await import('../../stages/evaluate.js');

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pipe-evaluate-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function setup(xData: Float32Array | Uint8Array, y: number[]) {
  const trainDir = join(root, 'train');
  await mkdir(join(trainDir, 'model'), { recursive: true });
  await writeFile(join(trainDir, 'model/w.json'), JSON.stringify({ k: 3 }));
  const train = await artifact(trainDir, 'train-fake', 'train', { model: 'fake' }, { model: 'fake', fit_s: 1.5 });
  const splitDir = join(root, 'split');
  await mkdir(splitDir, { recursive: true });
  await writeNpy(join(splitDir, 'x_test.npy'), xData, [y.length, 2]);
  await writeNpy(join(splitDir, 'y_test.npy'), Uint8Array.from(y), [y.length]);
  await writeFile(join(splitDir, 'classes.json'), JSON.stringify(['a', 'b', 'c']));
  const data = await artifact(splitDir, 'split', 'split', {}, {});
  const outDir = join(root, `out-${Math.random().toString(36).slice(2)}`);
  await mkdir(outDir);
  const ctx: StageContext = {
    stage: 'evaluate-fake',
    params: { batch_size: 4 },
    inputs: { model: train, data },
    inputLists: {},
    outDir,
    signal: new AbortController().signal,
    threads: 1,
    external: { files: {} },
    progress: () => {},
    log: () => {},
  };
  return { ctx, train, outDir };
}

describe('evaluate stage', () => {
  it('writes report.json, probabilities.npy and predictions.npy in the documented formats', async () => {
    // first feature → predicted class: 0→0, 0.34→1, 0.67→2
    const first = [0, 0, 0.34, 0.67, 0.67, 0.34, 0, 0.67, 0.34, 0];
    const y = [0, 0, 1, 2, 1, 1, 2, 2, 1, 0];
    const x = new Float32Array(first.flatMap((v) => [v, 0.5]));
    const { ctx, train, outDir } = await setup(x, y);
    calls.length = 0;
    const result = await evaluate.run(ctx);

    // warm-up on one example, then batches of 4, 4, 2
    expect(calls).toEqual([[1, 2], [4, 2], [4, 2], [2, 2]]);
    const report = JSON.parse(await readFile(join(outDir, 'report.json'), 'utf8'));
    // predicted: 0 0 1 2 2 1 0 2 1 0 → confusion rows (true) a: [3,0,0] b: [0,3,1] c: [1,0,2]
    expect(report.confusion).toEqual([[3, 0, 0], [0, 3, 1], [1, 0, 2]]);
    expect(report.accuracy).toBe(0.8);
    expect(report.classes).toEqual(['a', 'b', 'c']);
    expect(report.per_class[0]).toEqual({ class: 'a', precision: 0.75, recall: 1, f1: 6 / 7, support: 3 });
    expect(report.macro_avg.support).toBe(10);
    expect(report.most_confused).toEqual([
      { true: 1, predicted: 2, count: 1, rate: 0.25 },
      { true: 2, predicted: 0, count: 1, rate: 1 / 3 },
    ]);
    expect(report.n_test).toBe(10);
    expect(report.model).toBe('fake');
    expect(report.backend).toBe('js');
    expect(report.model_content_hash).toBe(contentHash(train.files));
    // Timings vary run to run: the manifest's metrics carry them, never the artifact's files.
    for (const timing of ['fit_s', 'predict_s', 'images_per_s']) expect(report).not.toHaveProperty(timing);
    expect(result.metrics?.['fit_s']).toBe(1.5);
    expect(result.metrics?.['predict_s']).toBeGreaterThanOrEqual(0);
    expect(result.metrics?.['images_per_s']).toBeGreaterThan(0);

    const proba = await readNpy(join(outDir, 'probabilities.npy'));
    expect(proba.dtype).toBe('float32');
    expect(proba.shape).toEqual([10, 3]);
    const predictions = await readNpy(join(outDir, 'predictions.npy'));
    expect(predictions.dtype).toBe('uint8');
    expect([...predictions.data]).toEqual([0, 0, 1, 2, 2, 1, 0, 2, 1, 0]);

    expect(result.backend).toBe('js');
    expect(result.metrics).toMatchObject({ model: 'fake', accuracy: 0.8, macro_f1: report.macro_avg.f1, fit_s: 1.5 });
    expect(Object.keys(result.metrics ?? {}).sort()).toEqual(['accuracy', 'fit_s', 'images_per_s', 'macro_f1', 'model', 'predict_s']);
  });

  it('asks for a normalize stage when the features are not float', async () => {
    const { ctx } = await setup(new Uint8Array(8), [0, 1, 2, 0]);
    await expect(evaluate.run(ctx)).rejects.toThrow(/normalize/);
  });
});
