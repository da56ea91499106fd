import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy } from '../../artifacts/npy.js';
import { explain } from '../../stages/explain.js';
import { colorize, gradCam, jet, NotConvolutionalError, overlay, pickLayer, GradCamError } from '../../stages/explain/gradcam.js';
import { initTf } from '../../stages/tf/backend.js';
import { StageInputError, type InputArtifact } from '../../stages/types.js';
import { artifact, context, saveModel, writeNpyFile } from './fixture.js';
import { handResidual, handSequential } from './models.js';
import { quadrantShare, synthetic } from './synthetic.js';

let tf: typeof TF;
beforeAll(async () => {
  // Gradient kernels for conv models on wasm come from another module; cpu always has them.
  ({ tf } = await initTf('cpu'));
});

const N = 24;

describe('gradCam on hand-weighted models', () => {
  for (const [name, build, expectedLayer, featureShape] of [
    ['Sequential CNN', handSequential, 'conv2', [14, 14, 2]],
    ['functional residual model (Add + BatchNorm)', handResidual, 'block_out', [28, 28, 2]],
  ] as const) {
    it(`${name}: class-1 heat sits on the filled square, not on the outline`, async () => {
      const model = build(tf);
      const data = synthetic(N, 7);
      const before = tf.memory().numTensors;
      const result = await gradCam(tf, model, data.x, [N, 28, 28, 1], 'predicted', { batchSize: 10 });
      expect(tf.memory().numTensors).toBe(before); // nothing leaked per batch
      expect(result.layer).toBe(expectedLayer);
      expect(result.featureShape).toEqual(featureShape);
      expect(result.usedLogits).toBe(true);
      expect(result.heatmaps.length).toBe(N * 784);
      expect(result.probabilities.length).toBe(N * 2);
      for (const v of result.heatmaps) expect(v >= 0 && v <= 1).toBe(true);
      for (let i = 0; i < N; i++) {
        // The model is right on every image, so "predicted" explains the true class.
        expect(result.classIndex[i]).toBe(data.y[i]);
        const p = result.probabilities.subarray(i * 2, i * 2 + 2);
        expect(p[0]! + p[1]!).toBeCloseTo(1, 5);
        const map = result.heatmaps.subarray(i * 784, (i + 1) * 784);
        expect(Math.max(...map)).toBeCloseTo(1, 5);
        if (data.y[i] === 1) {
          expect(quadrantShare(result.heatmaps, i * 784, data.evidence[i]!)).toBeGreaterThan(0.9);
          expect(quadrantShare(result.heatmaps, i * 784, data.distractor[i]!)).toBeLessThan(0.05);
        }
      }
      // Explaining class 1 on class-0 images: no filled square, so no positive evidence at all.
      const forced = await gradCam(tf, model, data.x, [N, 28, 28, 1], Array.from({ length: N }, () => 1));
      for (let i = 0; i < N; i++) {
        if (data.y[i] === 0) expect(Math.max(...forced.heatmaps.subarray(i * 784, (i + 1) * 784))).toBe(0);
      }
      model.dispose();
    });
  }

  it('honours an explicit layer and explains the class it is told to', async () => {
    const model = handSequential(tf);
    const data = synthetic(4, 3);
    const one = data.y.indexOf(1);
    const x = data.x.slice(one * 784, (one + 1) * 784);
    const asOne = await gradCam(tf, model, x, [1, 28, 28, 1], [1], { layer: 'conv1' });
    const asZero = await gradCam(tf, model, x, [1, 28, 28, 1], [0], { layer: 'conv1' });
    expect(asOne.layer).toBe('conv1');
    expect(asOne.featureShape).toEqual([28, 28, 2]);
    // Class 0 reads "any bright pixel": its map covers the outline too, class 1's does not.
    expect(quadrantShare(asZero.heatmaps, 0, data.distractor[one]!)).toBeGreaterThan(0.2);
    expect(quadrantShare(asOne.heatmaps, 0, data.distractor[one]!)).toBeLessThan(0.05);
    model.dispose();
  });

  it('rejects unknown or non-spatial layers and models without convolutions', () => {
    const model = handSequential(tf);
    expect(() => pickLayer(model, 'nope')).toThrow(/not in the model; choose one of: conv1, pool1, conv2, pool2/);
    expect(() => pickLayer(model, 'flatten')).toThrow(GradCamError);
    const mlp = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10, activation: 'softmax' })] });
    expect(() => pickLayer(mlp)).toThrow(NotConvolutionalError);
    expect(() => pickLayer(mlp)).toThrow(/needs a convolutional model/);
    model.dispose();
    mlp.dispose();
  });
});

describe('colour helpers', () => {
  it('maps 0 to blue, 1 to red and blends over the grayscale image', () => {
    expect(jet(0)).toEqual([0, 0, 128]);
    expect(jet(1)).toEqual([128, 0, 0]);
    expect(jet(0.5)).toEqual([128, 255, 128]);
    expect(Array.from(colorize([0, 1]))).toEqual([0, 0, 128, 128, 0, 0]);
    const rgb = overlay([1, 0], [0, 1], 0.5);
    expect(Array.from(rgb)).toEqual([128, 128, 192, 64, 0, 0]);
  });
});

describe('explain stage end to end', () => {
  let root: string;
  let data: InputArtifact;
  let trained: InputArtifact;
  let set: ReturnType<typeof synthetic>;
  const n = 40;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'pipe-explain-'));
    set = synthetic(n, 11);
    const dataDir = join(root, 'split');
    writeNpyFile(dataDir, 'x_test.npy', set.x, [n, 28, 28, 1]);
    writeNpyFile(dataDir, 'y_test.npy', set.y, [n]);
    writeFileSync(join(dataDir, 'classes.json'), JSON.stringify(['outlines', 'square']));
    data = artifact('split', 'split', dataDir);
    const model = handSequential(tf);
    await saveModel(tf, model, join(root, 'train', 'model'));
    model.dispose();
    trained = artifact('train_cnn', 'train', join(root, 'train'), { model: 'cnn' });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes every documented file, predicting by itself without an evaluation', async () => {
    const out = join(root, 'out1');
    const ctx = context({ model: trained, data }, { per_class: { correct: 2, wrong: 2 }, class_mean_samples: 5, seed: 1 }, out);
    const result = await explain.run(ctx);
    expect(result.metrics).toMatchObject({ layer: 'conv2', examples: 4 });
    expect(result.backend).toBe('cpu');
    const report = JSON.parse(readFileSync(join(out, 'gradcam.json'), 'utf8'));
    expect(report).toMatchObject({ model: 'cnn', layer: 'conv2', class: 'predicted', classes: ['outlines', 'square'], class_mean_counts: [5, 5] });
    // The hand model is always right: 2 correct per class, no wrong ones exist.
    expect(report.examples.map((e: { label: number; correct: boolean }) => [e.label, e.correct])).toEqual([[0, true], [0, true], [1, true], [1, true]]);
    for (const e of report.examples) expect(e.class_index_explained).toBe(e.predicted);

    const images = decodeNpy(readFileSync(join(out, 'images.npy')));
    expect(images).toMatchObject({ dtype: 'uint8', shape: [4, 28, 28] });
    const first = report.examples[0].test_index;
    expect(images.data[0]).toBe(Math.round(set.x[first * 784]! * 255));
    const heat = decodeNpy(readFileSync(join(out, 'heatmaps.npy')));
    expect(heat).toMatchObject({ dtype: 'float32', shape: [4, 28, 28] });
    for (const v of heat.data) expect(v >= 0 && v <= 1).toBe(true);
    const means = decodeNpy(readFileSync(join(out, 'class_mean_heatmaps.npy')));
    expect(means).toMatchObject({ dtype: 'float32', shape: [2, 28, 28] });
    for (let k = 0; k < 4; k++) {
      for (const kind of ['original', 'heatmap', 'overlay']) {
        const png = PNG.sync.read(readFileSync(join(out, 'png', `${k}-${kind}.png`)));
        expect([png.width, png.height]).toEqual([112, 112]);
      }
    }
    expect(existsSync(join(out, 'png', 'class-1-mean.png'))).toBe(true);
  });

  it('takes wrong predictions from the evaluation and explains true classes for explicit indices', async () => {
    const evalDir = join(root, 'evaluate');
    const predictions = Uint8Array.from(set.y);
    predictions[0] = 1 - predictions[0]!; // pretend the model missed image 0 and 3
    predictions[3] = 1 - predictions[3]!;
    writeNpyFile(evalDir, 'predictions.npy', predictions, [n]);
    const evaluation = artifact('evaluate', 'evaluate', evalDir);
    const out = join(root, 'out2');
    await explain.run(context({ model: trained, data, evaluation }, { per_class: { correct: 1, wrong: 2 }, class_mean_samples: 3, png_scale: 2 }, out));
    const report = JSON.parse(readFileSync(join(out, 'gradcam.json'), 'utf8'));
    const wrong = report.examples.filter((e: { correct: boolean }) => !e.correct).map((e: { test_index: number }) => e.test_index);
    expect(wrong.sort()).toEqual([0, 3]);
    expect(PNG.sync.read(readFileSync(join(out, 'png', '0-overlay.png'))).width).toBe(56);

    const out3 = join(root, 'out3');
    await explain.run(context({ model: trained, data, evaluation }, { indices: [3, 0], class: 'true', layer: 'conv1', class_mean_samples: 1 }, out3));
    const explicit = JSON.parse(readFileSync(join(out3, 'gradcam.json'), 'utf8'));
    expect(explicit.layer).toBe('conv1');
    expect(explicit.examples.map((e: { test_index: number; class_index_explained: number; predicted: number }) => [e.test_index, e.class_index_explained, e.predicted])).toEqual([
      [3, set.y[3], predictions[3]],
      [0, set.y[0], predictions[0]],
    ]);
  });

  it('tells the user clearly when the model is not convolutional or the input is wrong', async () => {
    const classical = join(root, 'train-rf');
    mkdirSync(join(classical, 'model'), { recursive: true });
    writeFileSync(join(classical, 'model', 'forest.json'), '{}');
    const rf = artifact('train_rf', 'train', classical, { model: 'random-forest' });
    await expect(explain.run(context({ model: rf, data }, {}, join(root, 'bad1')))).rejects.toThrow(/"train_rf" trained "random-forest".*needs a convolutional model/);

    const mlp = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    await saveModel(tf, mlp, join(root, 'train-mlp', 'model'));
    mlp.dispose();
    const mlpArtifact = artifact('train_mlp', 'train', join(root, 'train-mlp'), { model: 'mlp' });
    const error = await explain.run(context({ model: mlpArtifact, data }, {}, join(root, 'bad2'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageInputError);
    expect((error as Error).message).toMatch(/Grad-CAM needs a convolutional model, but "train_mlp" \(model "mlp"\) has no Conv2D layers/);

    await expect(explain.run(context({ model: trained, data }, { layer: 'flatten' }, join(root, 'bad3')))).rejects.toThrow(/layer "flatten" does not output a single 4-D feature map/);
    await expect(explain.run(context({ model: trained, data }, { indices: [n] }, join(root, 'bad4')))).rejects.toThrow(/indices contains 40/);
  });
});
