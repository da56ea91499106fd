/**
 * `explain`: Grad-CAM heatmaps showing where a convolutional model looks, for a few chosen test
 * images (right and wrong ones per class, or explicit indices) and averaged per class.
 * Output format: docs/artifact-formats.md (`explain` row).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { classNames, readClassIndices, readFloatFeatures, writeArray } from './data/arrays.js';
import { colorize, gradCam, NotConvolutionalError, overlay, pickLayer } from './explain/gradcam.js';
import { loadLayersFromDir } from './explain/load-layers.js';
import { encodePng, upscale } from './explain/png.js';
import { trainedModelName } from './models/trained-name.js';
import { loadSchema } from './schema.js';
import { initTf, type BackendName } from './tf/backend.js';
import { StageInputError, type InputArtifact, type JsonValue, type StageDefinition } from './types.js';
import { mulberry32, shuffle } from './util/random.js';

/** Images per forward/backward pass: bounds memory like `predictBatched` does. */
const BATCH = 64;

interface Example {
  test_index: number;
  label: number;
  predicted: number;
  correct: boolean;
  class_index_explained: number;
  probability: number;
}

async function readTestImages(data: InputArtifact): Promise<{ x: Float32Array; n: number; height: number; width: number }> {
  const { x, shape } = await readFloatFeatures(data, 'x_test.npy', 'explain');
  if (!(shape.length === 3 || (shape.length === 4 && shape[3] === 1))) {
    throw new StageInputError(`${data.stage}/x_test.npy is [${shape.join(',')}]; explain needs images [N,28,28,1]: add a \`reshape\` stage`);
  }
  return { x, n: shape[0]!, height: shape[1]!, width: shape[2]! };
}

/** Argmax predictions over the whole test set, when no evaluation artifact supplies them. */
async function predictAll(tf: typeof TF, model: TF.LayersModel, x: Float32Array, n: number, sample: number[]): Promise<Uint8Array> {
  const rowSize = sample.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(n);
  for (let start = 0; start < n; start += 1000) {
    const b = Math.min(1000, n - start);
    const best = tf.tidy(() => tf.argMax(model.predict(tf.tensor(x.subarray(start * rowSize, (start + b) * rowSize), [b, ...sample])) as TF.Tensor, -1));
    out.set(await best.data(), start);
    best.dispose();
  }
  return out;
}

/** Per true class: `correct` right and `wrong` misclassified test images, each group shuffled by `seed`. */
export function chooseExamples(y: Uint8Array, predicted: Uint8Array, numClasses: number, correct: number, wrong: number, seed: number): number[] {
  const random = mulberry32(seed);
  const chosen: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const right: number[] = [];
    const missed: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] === c) (predicted[i] === c ? right : missed).push(i);
    shuffle(right, random);
    shuffle(missed, random);
    chosen.push(...right.slice(0, correct), ...missed.slice(0, wrong));
  }
  return chosen;
}

/** Up to `perClass` test images of each class (all when 0), seeded; returns indices and their classes. */
function classMeanSample(y: Uint8Array, numClasses: number, perClass: number, seed: number): number[] {
  const random = mulberry32(seed + 1); // a stream apart from the example choice
  const picked: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const members: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] === c) members.push(i);
    shuffle(members, random);
    picked.push(...(perClass > 0 ? members.slice(0, perClass) : members));
  }
  return picked;
}

function gather(x: Float32Array, indices: readonly number[], rowSize: number): Float32Array {
  const out = new Float32Array(indices.length * rowSize);
  indices.forEach((index, k) => out.set(x.subarray(index * rowSize, (index + 1) * rowSize), k * rowSize));
  return out;
}

function toUint8(x: Float32Array): Uint8Array {
  return Uint8Array.from(x, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
}

function intParam(value: JsonValue | undefined, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

export const explain: StageDefinition = {
  kind: 'explain',
  version: 1,
  description: 'Grad-CAM heatmaps for a convolutional model on chosen test images, plus a mean heatmap per class',
  inputs: [
    { name: 'model', required: true, description: 'train artifact of a convolutional model (cnn, resnet)' },
    { name: 'data', required: true, description: 'split artifact with x_test.npy (float32 [N,28,28,1]) and y_test.npy' },
    { name: 'evaluation', required: false, description: 'evaluate artifact whose predictions.npy picks right/wrong examples (else explain predicts itself)' },
  ],
  schema: loadSchema('stages/explain'),
  usesBackend: true,
  usesModels: true,
  async run(ctx) {
    const modelInput = ctx.inputs['model'];
    const data = ctx.inputs['data'];
    if (!modelInput || !data) throw new StageInputError('explain: inputs `model` and `data` are required');
    const modelName = trainedModelName(modelInput) ?? modelInput.stage;
    const modelDir = join(modelInput.dir, 'model');
    // Grad-CAM explains one network's gradients; an average of several models has no single map.
    if (modelName === 'ensemble') {
      throw new StageInputError(
        `explain: "${modelInput.stage}" is an ensemble; Grad-CAM needs one convolutional model: point \`model\` at one of its cnn or resnet members`,
      );
    }
    if (!existsSync(join(modelDir, 'model.json'))) {
      throw new StageInputError(
        `explain: "${modelInput.stage}" trained "${modelName}", which is not a TensorFlow.js network (no model/model.json); ` +
          'Grad-CAM needs a convolutional model: point `model` at a cnn or resnet train stage',
      );
    }
    const { tf, backend } = await initTf(ctx.backend as BackendName | undefined);
    const model = await loadLayersFromDir(tf, modelDir);
    try {
      try {
        pickLayer(model, typeof ctx.params['layer'] === 'string' ? ctx.params['layer'] : undefined);
      } catch (error) {
        if (error instanceof NotConvolutionalError) throw new NotConvolutionalError(`"${modelInput.stage}" (model "${modelName}")`);
        throw new StageInputError(`explain: ${(error as Error).message}`);
      }
      return await explainWith(tf, model, modelName, modelInput, data, backend, ctx);
    } finally {
      model.dispose();
    }
  },
};

async function explainWith(
  tf: typeof TF,
  model: TF.LayersModel,
  modelName: string,
  modelInput: InputArtifact,
  data: InputArtifact,
  backend: string,
  ctx: Parameters<StageDefinition['run']>[0],
): Promise<{ metrics: Record<string, JsonValue>; backend: string }> {
  const p = ctx.params;
  const { x, n, height, width } = await readTestImages(data);
  const sample = [height, width, 1];
  const want = model.inputs[0]!.shape.slice(1);
  if (want.length !== 3 || want[0] !== height || want[1] !== width || want[2] !== 1) {
    throw new StageInputError(`explain: "${modelInput.stage}" expects images [N,${want.join(',')}] but ${data.stage}/x_test.npy holds [${n},${height},${width},1]`);
  }
  const rowSize = height * width;
  const y = await readClassIndices(data, 'y_test.npy', n);
  const numClasses = (model.outputs[0]!.shape[1] as number | null) ?? 1;
  const classes = await classNames(data, numClasses);

  const evaluation = ctx.inputs['evaluation'];
  let predicted: Uint8Array;
  if (evaluation) {
    predicted = await readClassIndices(evaluation, 'predictions.npy', n);
  } else {
    ctx.log(`no evaluation input: predicting ${n} test images`);
    ctx.progress({ done: 0, total: 1, label: 'predicting' });
    predicted = await predictAll(tf, model, x, n, sample);
  }

  const seed = intParam(p['seed'], 0);
  let indices: number[];
  if (Array.isArray(p['indices'])) {
    indices = p['indices'].map(Number);
    const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= n);
    if (bad !== undefined) throw new StageInputError(`explain: indices contains ${bad}, but the test set has ${n} images (0..${n - 1})`);
  } else {
    const perClass = (p['per_class'] ?? {}) as Record<string, JsonValue>;
    indices = chooseExamples(y, predicted, numClasses, intParam(perClass['correct'], 2), intParam(perClass['wrong'], 2), seed);
  }
  const explainTrue = p['class'] === 'true';
  const meanIndices = classMeanSample(y, numClasses, intParam(p['class_mean_samples'], 100), seed);
  const total = indices.length + meanIndices.length;
  const layerName = typeof p['layer'] === 'string' ? p['layer'] : undefined;
  const common = { batchSize: BATCH, signal: ctx.signal, ...(layerName ? { layer: layerName } : {}) };

  ctx.log(`Grad-CAM on ${indices.length} examples and ${meanIndices.length} images for the class means`);
  const examplesCam = await gradCam(tf, model, gather(x, indices, rowSize), [indices.length, ...sample], explainTrue ? indices.map((i) => y[i]!) : indices.map((i) => predicted[i]!), {
    ...common,
    onBatch: (done) => ctx.progress({ done, total, label: 'examples' }),
  });
  const meansCam = await gradCam(tf, model, gather(x, meanIndices, rowSize), [meanIndices.length, ...sample], meanIndices.map((i) => y[i]!), {
    ...common,
    onBatch: (done) => ctx.progress({ done: indices.length + done, total, label: 'class means' }),
  });

  // Class means: each image explains its own true class ("where does the model see a sneaker?").
  const means = new Float32Array(numClasses * rowSize);
  const counts = new Array<number>(numClasses).fill(0);
  meanIndices.forEach((index, k) => {
    const c = y[index]!;
    if (c >= numClasses) return;
    counts[c]! += 1;
    const map = meansCam.heatmaps.subarray(k * rowSize, (k + 1) * rowSize);
    for (let j = 0; j < rowSize; j++) means[c * rowSize + j]! += map[j]!;
  });
  counts.forEach((count, c) => {
    if (count > 0) for (let j = 0; j < rowSize; j++) means[c * rowSize + j]! /= count;
  });

  const images = toUint8(gather(x, indices, rowSize));
  const examples: Example[] = indices.map((index, k) => ({
    test_index: index,
    label: y[index]!,
    // The evaluation's prediction when given (what the report shows); the map explains class_index_explained.
    predicted: predicted[index]!,
    correct: y[index] === predicted[index],
    class_index_explained: examplesCam.classIndex[k]!,
    probability: Number(examplesCam.probabilities[k * numClasses + examplesCam.classIndex[k]!]!.toFixed(6)),
  }));

  await writeArray(ctx.outDir, 'images.npy', images, [indices.length, height, width]);
  await writeArray(ctx.outDir, 'heatmaps.npy', examplesCam.heatmaps, [indices.length, height, width]);
  await writeArray(ctx.outDir, 'class_mean_heatmaps.npy', means, [numClasses, height, width]);

  const scale = intParam(p['png_scale'], 4);
  const pngDir = join(ctx.outDir, 'png');
  await mkdir(pngDir, { recursive: true });
  const png = (file: string, pixels: Uint8Array, channels: 1 | 3) =>
    writeFile(join(pngDir, file), encodePng(upscale(pixels, width, height, channels, scale), width * scale, height * scale, channels));
  for (let k = 0; k < indices.length; k++) {
    const image = gather(x, [indices[k]!], rowSize);
    const heat = examplesCam.heatmaps.subarray(k * rowSize, (k + 1) * rowSize);
    await png(`${k}-original.png`, images.subarray(k * rowSize, (k + 1) * rowSize), 1);
    await png(`${k}-heatmap.png`, colorize(heat), 3);
    await png(`${k}-overlay.png`, overlay(image, heat), 3);
  }
  // Class means are rescaled to their own maximum for display only (the .npy keeps the true mean).
  for (let c = 0; c < numClasses; c++) {
    const map = means.subarray(c * rowSize, (c + 1) * rowSize);
    const peak = map.reduce((a, b) => Math.max(a, b), 0);
    await png(`class-${c}-mean.png`, colorize(peak > 0 ? map.map((v) => v / peak) : map), 3);
  }

  const report = {
    model: modelName,
    layer: examplesCam.layer,
    feature_shape: [...examplesCam.featureShape],
    score: examplesCam.usedLogits ? 'logit' : 'output',
    class: explainTrue ? 'true' : 'predicted',
    classes: classes.slice(0, numClasses),
    class_mean_counts: counts,
    examples,
  };
  await writeFile(join(ctx.outDir, 'gradcam.json'), `${JSON.stringify(report, null, 1)}\n`);
  ctx.log(`explained layer ${examplesCam.layer} ${JSON.stringify(examplesCam.featureShape)} with ${examples.length} examples`);
  return { metrics: { layer: examplesCam.layer, examples: examples.length, model: modelName }, backend };
}
