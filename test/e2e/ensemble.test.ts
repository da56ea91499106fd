/**
 * The `ensemble` stage end to end on the compiled CLI: a tiny cnn (image input) and a logistic
 * regression (flat input) averaged into one model that evaluate and `pipe predict` accept, whose
 * test accuracy is the one recomputed here from the members' own evaluate probabilities.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../artifacts/npy.js';
import { ensemble } from '../../stages/ensemble.js';
import type { EnsembleFile } from '../../stages/models/ensemble.js';
import { StageInputError, type StageContext } from '../../stages/types.js';
import { artifact } from '../report/fixtures.js';
import { makeRig, ROOT, type Rig } from './rig.js';

const PIPELINE = `name: ens
stages:
  load: { kind: load, params: { train_limit: 400, test_limit: 60 } }
  normalize: { kind: normalize, inputs: { data: load } }
  reshape: { kind: reshape, inputs: { data: normalize } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split-images: { kind: split, inputs: { data: reshape }, params: { validation: 0.25 } }
  split-flat: { kind: split, inputs: { data: flatten }, params: { validation: 0.25 } }
  train-cnn: { kind: train, inputs: { data: split-images }, params: { model: cnn, epochs: 1, batch_size: 32, filters: [8, 8, 8], dense_units: 16 } }
  train-lr: { kind: train, inputs: { data: split-flat }, params: { model: logistic-regression, epochs: 3, batch_size: 32 } }
  ens: { kind: ensemble, inputs: { models: [train-cnn, train-lr], data: split-images } }
  evaluate-cnn: { kind: evaluate, inputs: { model: train-cnn, data: split-images } }
  evaluate-lr: { kind: evaluate, inputs: { model: train-lr, data: split-flat } }
  evaluate-ens: { kind: evaluate, inputs: { model: ens, data: split-images } }
`;

interface Done {
  type: string;
  stage?: string;
  key?: string;
  metrics?: Record<string, unknown>;
}

async function dirOf(rig: Rig, stage: string): Promise<string> {
  const show = await rig.pipe(['show', `p.yaml:${stage}`, '--json']);
  expect(show.code, show.stderr).toBe(0);
  return (JSON.parse(show.stdout) as { dir: string }).dir;
}

describe('ensemble stage', () => {
  let rig: Rig;
  let events: Done[];
  beforeAll(async () => {
    rig = await makeRig();
    await rig.write('p.yaml', PIPELINE);
    const run = await rig.pipe(['run', 'p.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    events = rig.events(run) as Done[];
  });
  afterAll(async () => rig.cleanup());

  it('evaluates, with the accuracy recomputed from its members’ probabilities and weights', async () => {
    const ens = events.find((e) => e.type === 'stage-done' && e.stage === 'ens');
    expect(ens?.metrics?.['model']).toBe('ensemble');
    expect(ens?.metrics?.['val_accuracy']).toEqual(expect.any(Number));
    const saved = JSON.parse(await readFile(join(await dirOf(rig, 'ens'), 'model', 'ensemble.json'), 'utf8')) as EnsembleFile;
    expect(saved.members.map((m) => m.model)).toEqual(['cnn', 'logistic-regression']);
    // Default weighting is by validation accuracy: the weights are the members' val_accuracy, normalised.
    const vals = ['train-cnn', 'train-lr'].map((s) => events.find((e) => e.type === 'stage-done' && e.stage === s)?.metrics?.['val_accuracy'] as number);
    saved.members.forEach((m, i) => expect(m.weight).toBeCloseTo(vals[i]! / (vals[0]! + vals[1]!), 5));

    const probs = await Promise.all(['evaluate-cnn', 'evaluate-lr'].map(async (s) => (await readNpy(join(await dirOf(rig, s), 'probabilities.npy'))).data as Float32Array));
    const y = (await readNpy(join(await dirOf(rig, 'split-images'), 'y_test.npy'))).data as Uint8Array;
    const k = saved.classes;
    // The same float32 accumulation, in member order, as the ensemble does.
    const mixed = new Float32Array(y.length * k);
    saved.members.forEach((m, i) => probs[i]!.forEach((p, j) => (mixed[j]! += m.weight * p)));
    let correct = 0;
    for (let r = 0; r < y.length; r++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (mixed[r * k + c]! > mixed[r * k + best]!) best = c;
      if (best === y[r]) correct++;
    }
    const report = JSON.parse(await readFile(join(await dirOf(rig, 'evaluate-ens'), 'report.json'), 'utf8')) as { model: string; accuracy: number };
    expect(report.model).toBe('ensemble');
    expect(report.accuracy).toBeCloseTo(correct / y.length, 10);
  });

  it('pipe predict accepts it and agrees with evaluate on the test images', async () => {
    const raw = gunzipSync(readFileSync(join(ROOT, 'data', 'fashion-mnist', 't10k-images-idx3-ubyte.gz'))).subarray(16);
    const files: string[] = [];
    for (let i = 0; i < 10; i++) {
      const png = new PNG({ width: 28, height: 28 });
      for (let j = 0; j < 784; j++) png.data.set([raw[i * 784 + j]!, raw[i * 784 + j]!, raw[i * 784 + j]!, 255], j * 4);
      files.push(join(rig.dir, `t${i}.png`));
      writeFileSync(files[i]!, PNG.sync.write(png));
    }
    const out = await rig.pipe(['predict', 'p.yaml:ens', ...files, '--json']);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as { model: string; predictions: Array<{ status: string; top: Array<{ index: number }> }> };
    expect(result.model).toBe('ensemble');
    const evaluated = (await readNpy(join(await dirOf(rig, 'evaluate-ens'), 'predictions.npy'))).data;
    const agree = result.predictions.filter((p, i) => p.status === 'ok' && p.top[0]?.index === Number(evaluated[i])).length;
    expect(agree).toBeGreaterThanOrEqual(9);
  });

  it('weighting is part of the cache key, and mean weights are equal', async () => {
    const before = events.find((e) => e.type === 'stage-done' && e.stage === 'ens');
    const run = await rig.pipe(['run', 'p.yaml', '--json', '--stage', 'ens', '--set', 'ens.weighting=mean']);
    expect(run.code, run.stderr).toBe(0);
    const after = (rig.events(run) as Done[]).find((e) => e.type === 'stage-done' && e.stage === 'ens');
    expect(after?.key).toBeDefined();
    expect(after?.key).not.toBe(before?.key);
    expect(after?.metrics?.['weights']).toEqual([0.5, 0.5]);
  });

  it('explain refuses an ensemble, naming it', async () => {
    await rig.write('x.yaml', `${PIPELINE.replace('name: ens', 'name: ensx')}  explain-ens: { kind: explain, inputs: { model: ens, data: split-images } }\n`);
    const run = await rig.pipe(['run', 'x.yaml', '--stage', 'explain-ens']);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/"ens" is an ensemble; Grad-CAM needs one convolutional model/);
  });
});

describe('ensemble members with different classes', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'pipe-ensemble-'));
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('is a StageInputError naming both members and their classes', async () => {
    const member = async (stage: string, classes: string[]) => {
      const dir = join(root, stage);
      await mkdir(join(dir, 'model'), { recursive: true });
      await writeFile(join(dir, 'model', 'w.json'), '{}');
      await writeFile(join(dir, 'classes.json'), JSON.stringify(classes));
      return artifact(dir, stage, 'train', { model: 'logistic-regression' }, { model: 'logistic-regression', val_accuracy: 0.5 });
    };
    const a = await member('train-a', ['x', 'y', 'z']);
    const b = await member('train-b', ['x', 'y']);
    const dataDir = join(root, 'split');
    await mkdir(dataDir, { recursive: true });
    const data = await artifact(dataDir, 'split', 'split', {}, {});
    const outDir = join(root, 'out');
    await mkdir(outDir);
    const ctx: StageContext = { stage: 'ens', params: {}, inputs: { data }, inputLists: { models: [a, b] }, outDir, signal: new AbortController().signal, threads: 1, external: { files: {} }, progress: () => {}, log: () => {} };
    const error = await ensemble.run(ctx).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StageInputError);
    expect((error as Error).message).toBe('ensemble: member "train-b" has 2 classes (x, y) but "train-a" has 3 (x, y, z); members must predict the same classes');
  });
});
