import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { readNpy } from '../../artifacts/npy.js';
import { byStatus, makeRig, ROOT, type Rig } from './rig.js';
import { copySharedTiny, sharedTinyStore, TINY } from './tiny-store.js';
const MODELS = ['cnn', 'resnet', 'mlp', 'logistic-regression', 'svm', 'random-forest', 'knn'];

/** Test image `index` as a dark-on-light PNG (the opposite of the dataset), to exercise inversion. */
function testImagePng(index: number): Buffer {
  const raw = gunzipSync(readFileSync(join(ROOT, 'data', 'fashion-mnist', 't10k-images-idx3-ubyte.gz')));
  const png = new PNG({ width: 28, height: 28 });
  for (let i = 0; i < 784; i++) {
    const v = 255 - raw[16 + index * 784 + i]!;
    png.data.set([v, v, v, 255], i * 4);
  }
  return PNG.sync.write(png);
}

describe('pipelines/tiny.yaml: every model end to end', () => {
  // The session's shared tiny store (tiny-store.ts) is the run checked here; the tests that change
  // it work on a copy in their own rig.
  let rig: Rig;
  // Seven trainings plus seven robustness evaluations when this file is the one that builds the
  // shared store: over the default 120 s on a busy 2-core machine.
  beforeAll(async () => {
    rig = await makeRig();
    await copySharedTiny(rig.dir);
  }, 600_000);
  afterAll(async () => rig.cleanup());

  it('trains, evaluates, explains, scores robustness and reports every model; stdout stays clean NDJSON', async () => {
    const tiny = await sharedTinyStore();
    const run = tiny.build;
    expect(run.code, run.stderr).toBe(0);
    // Library chatter (libsvm, tfjs banners) must not leak into machine-readable output.
    for (const line of run.stdout.split('\n').filter(Boolean)) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    const events = rig.events(run);
    expect(byStatus(events, 'stage-failed')).toEqual([]);
    for (const model of MODELS) {
      const trained = events.find((e) => e.type === 'stage-done' && e['stage'] === `train-${model}`) as { metrics: Record<string, unknown> } | undefined;
      expect(trained?.metrics['model']).toBe(model);
      expect(trained?.metrics['val_accuracy']).toBeGreaterThan(0.3);
      const evaluated = events.find((e) => e.type === 'stage-done' && e['stage'] === `evaluate-${model}`) as { metrics: Record<string, number> } | undefined;
      // 600 training images, one epoch: well above chance (0.1) for every model.
      expect(evaluated?.metrics['accuracy'], model).toBeGreaterThan(0.3);
      const robust = events.find((e) => e.type === 'stage-done' && e['stage'] === `robustness-${model}`) as { metrics: Record<string, number> } | undefined;
      expect(robust?.metrics['accuracy_photos'], model).toBeGreaterThanOrEqual(0);
    }
    // The ensemble of cnn, resnet, mlp and svm (image and flat members) evaluates like a model.
    const ensembled = events.find((e) => e.type === 'stage-done' && e['stage'] === 'evaluate-ensemble') as { metrics: Record<string, unknown> } | undefined;
    expect(ensembled?.metrics['model']).toBe('ensemble');
    expect(ensembled?.metrics['accuracy']).toBeGreaterThan(0.3);
    const html = readFileSync(join(tiny.dir, 'reports', 'tiny.html'), 'utf8');
    for (const model of MODELS) expect(html).toContain(model);
    expect(html).toContain('Grad-CAM');
    expect(html).toContain('<section id="robustness">');
    expect(html).toContain('<section id="photos">');
    const explain = JSON.parse((await rig.pipe(['show', 'explain-cnn', '--json', '--store', tiny.store])).stdout) as { files: Record<string, unknown> };
    expect(Object.keys(explain.files).some((f) => f.endsWith('.png'))).toBe(true);
  });

  it('changing one model\'s epochs reruns only that model\'s branch', async () => {
    const run = await rig.pipe(['run', TINY, '--json', '--set', 'train-cnn.epochs=2']);
    expect(run.code, run.stderr).toBe(0);
    expect(byStatus(rig.events(run), 'stage-done')).toEqual(['ensemble', 'evaluate-cnn', 'evaluate-ensemble', 'explain-cnn', 'report', 'robustness-cnn', 'train-cnn']);
  });

  it('pipe predict classifies PNG files with a trained model, top 3', async () => {
    const file = join(rig.dir, 'item.png');
    writeFileSync(file, testImagePng(0));
    for (const target of ['train-cnn', 'train-svm']) {
      const out = await rig.pipe(['predict', target, file, '--json']);
      expect(out.code, out.stderr).toBe(0);
      const result = JSON.parse(out.stdout) as { predictions: Array<{ top: Array<{ class: string; probability: number }>; preprocess: { inverted: boolean } }> };
      const [prediction] = result.predictions;
      expect(prediction?.preprocess.inverted).toBe(true);
      expect(prediction?.top).toHaveLength(3);
      const p = prediction!.top.map((t) => t.probability);
      expect(p[0]).toBeGreaterThanOrEqual(p[1]!);
      expect(p.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1.0001);
    }
    const text = await rig.pipe(['predict', 'train-cnn', file]);
    expect(text.stdout).toMatch(/%\s+(T-shirt\/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)\n/);
    writeFileSync(join(rig.dir, 'bad.png'), 'not an image');
    const bad = await rig.pipe(['predict', 'train-cnn', join(rig.dir, 'bad.png')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad.png: unsupported image format');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const notModel = await rig.pipe(['predict', 'inspect', file]);
    expect(notModel.code).toBe(2);
    expect(notModel.stderr).toContain('is not a trained model');
  });
});

describe('pca stage', () => {
  it('projects every split with components fitted on x_train; a model trained on it predicts images', async () => {
    const rig = await makeRig();
    try {
      await rig.write('pca.yaml', `name: pca
stages:
  load: { kind: load, params: { train_limit: 1000, test_limit: 200 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: flatten } }
  pca: { kind: pca, inputs: { data: split }, params: { components: 20 } }
  train: { kind: train, inputs: { data: pca }, params: { model: mlp, epochs: 20, batch_size: 32, hidden_layers: [32] } }
  evaluate: { kind: evaluate, inputs: { model: train, data: pca } }
  train-lr: { kind: train, inputs: { data: split }, params: { model: logistic-regression, epochs: 3, batch_size: 32 } }
  ens: { kind: ensemble, inputs: { models: [train, train-lr], data: split }, params: { weighting: mean } }
`);
      const run = await rig.pipe(['run', 'pca.yaml', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const show = (stage: string) => rig.pipe(['show', stage, '--json']).then((r) => JSON.parse(r.stdout) as { dir: string; metrics: Record<string, number>; files: Record<string, unknown> });
      const pca = await show('pca');
      expect(pca.metrics['kept_variance']).toBeGreaterThan(0.5);
      expect(pca.metrics['kept_variance']).toBeLessThan(1);
      // Validation rows are projected with the training mean and components, not refitted.
      const [xVal, xValRaw, mean, comps] = await Promise.all([
        readNpy(join(pca.dir, 'x_val.npy')),
        show('split').then((s) => readNpy(join(s.dir, 'x_val.npy'))),
        readNpy(join(pca.dir, 'transform', 'pca_mean.npy')),
        readNpy(join(pca.dir, 'transform', 'pca_components.npy')),
      ]);
      expect(xVal.shape).toEqual([100, 20]);
      for (const [row, k] of [[0, 0], [57, 19]] as const) {
        let dot = 0;
        for (let f = 0; f < 784; f++) dot += (xValRaw.data[row * 784 + f]! - mean.data[f]!) * comps.data[k * 784 + f]!;
        expect(xVal.data[row * 20 + k]).toBeCloseTo(dot, 3);
      }
      expect((await show('evaluate')).metrics['accuracy']).toBeGreaterThan(0.5);
      expect(Object.keys((await show('train')).files)).toContain('transform/pca.json');
      const file = join(rig.dir, 'item.png');
      writeFileSync(file, testImagePng(1));
      const predicted = await rig.pipe(['predict', 'train', file, '--json']);
      expect(predicted.code, predicted.stderr).toBe(0);
      expect((JSON.parse(predicted.stdout) as { predictions: Array<{ top: unknown[] }> }).predictions[0]?.top).toHaveLength(3);
      // An ensemble member trained on the pca stage gets its projection from the ensemble's own copy of transform/.
      const ens = await show('ens');
      expect(Object.keys(ens.files)).toContain('model/members/0/transform/pca.json');
      expect(ens.metrics['val_accuracy']).toBeGreaterThan(0.5);
      const viaEnsemble = await rig.pipe(['predict', 'ens', file, '--json']);
      expect(viaEnsemble.code, viaEnsemble.stderr).toBe(0);
      expect((JSON.parse(viaEnsemble.stdout) as { predictions: Array<{ top: unknown[] }> }).predictions[0]?.top).toHaveLength(3);
    } finally {
      await rig.cleanup();
    }
  });
});

describe('shipped pipelines', () => {
  it('every file in pipelines/ validates and plans', async () => {
    const rig = await makeRig();
    try {
      const files = readdirSync(join(ROOT, 'pipelines')).filter((f) => f.endsWith('.yaml'));
      expect(files).toEqual(expect.arrayContaining(['quick.yaml', 'full-comparison.yaml', 'sweep-cnn.yaml', 'tiny.yaml']));
      for (const file of files) {
        const status = await rig.pipe(['status', join(ROOT, 'pipelines', file)]);
        // 3 = valid, and some stage would run (empty store); 2 would mean diagnostics.
        expect(status.code, `${file}: ${status.stderr}`).toBe(3);
      }
      expect(existsSync(join(ROOT, 'pipelines', 'full-comparison.yaml'))).toBe(true);
    } finally {
      await rig.cleanup();
    }
  });
});
