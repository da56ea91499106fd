/**
 * Small synthetic artifacts for the report tests, written in the formats of docs/artifact-formats.md:
 * inspect, two train + evaluate pairs (a CNN with curves, a logistic regression without), an explain
 * artifact, two robustness artifacts (with photo examples) and a split. One class name holds markup,
 * to check escaping end to end.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { contentHash } from '../../artifacts/hash.js';
import { writeNpy, type NpyData } from '../../artifacts/npy.js';
import { argmaxRows, classificationReport, confusionMatrix, mostConfused } from '../../stages/evaluate/metrics.js';
import { preprocessImage } from '../../stages/predict/preprocess.js';
import { writeExamples } from '../../stages/robustness/examples.js';
import type { RobustnessFile } from '../../stages/robustness/format.js';
import { renderPhoto } from '../../stages/robustness/render.js';
import type { InputArtifact, JsonValue, Params } from '../../stages/types.js';

export const EVIL = '<script>alert("x")</script>';
export const CLASSES = ['T-shirt/top', 'Trouser', EVIL, 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle & boot'];
const N = 200;
const K = CLASSES.length;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else out.push(full);
  }
  return out;
}

/** An InputArtifact over a finished directory, hashing its files as the store would. */
export async function artifact(dir: string, stage: string, kind: string, params: Params, metrics: Record<string, JsonValue>): Promise<InputArtifact> {
  const files: Record<string, { sha256: string; bytes: number }> = {};
  for (const file of (await walk(dir)).sort()) {
    const bytes = await readFile(file);
    files[relative(dir, file).split('\\').join('/')] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  }
  return {
    stage,
    kind,
    dir,
    files,
    metrics,
    params,
    has: (f) => f in files,
    path: (f) => {
      if (!(f in files)) throw new Error(`${stage} has no ${f}`);
      return join(dir, f);
    },
  };
}

async function npy(dir: string, name: string, data: NpyData, shape: number[]): Promise<void> {
  await mkdir(join(dir, name, '..'), { recursive: true });
  await writeNpy(join(dir, name), data, shape);
}

async function json(dir: string, name: string, value: unknown): Promise<void> {
  await mkdir(join(dir, name, '..'), { recursive: true });
  await writeFile(join(dir, name), `${JSON.stringify(value, null, 1)}\n`);
}

/** A 28×28 image per class: a bar whose position depends on the class, plus a little texture. */
function image(label: number, i: number): Float32Array {
  const img = new Float32Array(784);
  for (let r = 0; r < 28; r++) {
    for (let c = 0; c < 28; c++) {
      const inBar = Math.abs(c - (3 + label * 2.4)) < 2 || Math.abs(r - 14) < 1 + (label % 3);
      img[r * 28 + c] = inBar ? 0.6 + 0.4 * (((r * 7 + c * 13 + i) % 10) / 10) : 0.05 * ((r + c + i) % 3);
    }
  }
  return img;
}

export interface Fixtures {
  inspect: InputArtifact;
  data: InputArtifact;
  trainings: InputArtifact[];
  evaluations: InputArtifact[];
  explanations: InputArtifact[];
  robustness: InputArtifact[];
}

async function evaluation(root: string, stage: string, model: string, training: InputArtifact, y: Uint8Array, accuracyTarget: number, withHash: boolean): Promise<InputArtifact> {
  const dir = join(root, stage);
  // Deterministic probabilities: right for the first `accuracyTarget` share of each class, else class+1.
  const proba = new Float32Array(N * K);
  for (let i = 0; i < N; i++) {
    const right = (i * 37) % 100 < accuracyTarget * 100;
    const p = right ? y[i]! : (y[i]! + 1 + (i % 2)) % K;
    for (let c = 0; c < K; c++) proba[i * K + c] = c === p ? 0.55 + ((i * 7) % 40) / 100 : 0.45 / (K - 1) - (((i * 7) % 40) / 100) / (K - 1);
  }
  const predictions = argmaxRows(proba, N, K);
  const confusion = confusionMatrix(y, predictions, K);
  const r = classificationReport(confusion);
  const fitS = Number(training.metrics['fit_s']);
  const report = {
    model,
    classes: CLASSES,
    accuracy: r.accuracy,
    per_class: r.per_class.map((c, i) => ({ class: CLASSES[i]!, ...c })),
    macro_avg: r.macro_avg,
    weighted_avg: r.weighted_avg,
    confusion,
    most_confused: mostConfused(confusion),
    predict_s: 0.05,
    images_per_s: model === 'cnn' ? 4000 : 90000,
    fit_s: fitS,
    n_test: N,
    backend: model === 'cnn' ? 'wasm' : 'js',
    ...(withHash ? { model_content_hash: contentHash(training.files) } : {}),
  };
  await json(dir, 'report.json', report);
  await npy(dir, 'probabilities.npy', proba, [N, K]);
  await npy(dir, 'predictions.npy', predictions, [N]);
  const metrics = { model, accuracy: r.accuracy, macro_f1: r.macro_avg.f1, predict_s: 0.05, images_per_s: report.images_per_s, fit_s: fitS };
  return artifact(dir, stage, 'evaluate', { batch_size: 1000, confused_pairs: 10 }, metrics);
}

export async function buildFixtures(root: string): Promise<Fixtures> {
  // split (also the report's `data` input): only the test split matters here.
  const y = Uint8Array.from({ length: N }, (_, i) => i % K);
  const x = new Float32Array(N * 784);
  for (let i = 0; i < N; i++) x.set(image(y[i]!, i), i * 784);
  const splitDir = join(root, 'split');
  await npy(splitDir, 'x_test.npy', x, [N, 28, 28, 1]);
  await npy(splitDir, 'y_test.npy', y, [N]);
  await json(splitDir, 'classes.json', CLASSES);
  const data = await artifact(splitDir, 'split-images', 'split', { seed: 42, validation: 0.1 }, { test: N });

  // inspect: stats, histogram and a 4-per-class sample grid.
  const inspectDir = join(root, 'inspect');
  const classCounts = new Array<number>(K).fill(6000);
  const histogram = Array.from({ length: 256 }, (_, v) => (v === 0 ? 2_500_000 : Math.round(40000 * Math.exp(-v / 60)) + 1));
  const stats = {
    classes: CLASSES,
    splits: {
      train: { count: 60000, shape: [60000, 28, 28], dtype: 'uint8', min: 0, max: 255, mean: 72.94, median: 0, std: 90.02, class_counts: classCounts },
      test: { count: 10000, shape: [10000, 28, 28], dtype: 'uint8', min: 0, max: 255, mean: 73.15, median: 0, std: 89.96, class_counts: new Array<number>(K).fill(1000) },
    },
    histogram: { split: 'train', counts: histogram },
  };
  await json(inspectDir, 'stats.json', stats);
  const samples = new Uint8Array(K * 4 * 784);
  const sampleLabels = new Uint8Array(K * 4);
  for (let c = 0; c < K; c++) {
    for (let j = 0; j < 4; j++) {
      const img = image(c, j);
      for (let p = 0; p < 784; p++) samples[(c * 4 + j) * 784 + p] = Math.round(img[p]! * 255);
      sampleLabels[c * 4 + j] = c;
    }
  }
  await npy(inspectDir, 'samples.npy', samples, [K * 4, 28, 28]);
  await npy(inspectDir, 'sample_labels.npy', sampleLabels, [K * 4]);
  const inspect = await artifact(inspectDir, 'inspect', 'inspect', { samples_per_class: 4 }, { train_mean: 72.94, train_median: 0, train_std: 90.02, train_count: 60000 });

  // trainings: the CNN has curves; logistic regression is non-iterative (history []).
  const cnnDir = join(root, 'train-cnn');
  await json(cnnDir, 'model/model.json', { format: 'layers-model', note: 'fixture' });
  await writeFile(join(cnnDir, 'model/weights.bin'), Buffer.alloc(64, 7));
  const history = Array.from({ length: 6 }, (_, e) => ({
    epoch: e + 1,
    loss: 1.2 * Math.exp(-e / 2) + 0.2,
    accuracy: 0.9 - 0.5 * Math.exp(-e / 1.5),
    val_loss: 1.1 * Math.exp(-e / 2.2) + 0.28,
    val_accuracy: 0.87 - 0.45 * Math.exp(-e / 1.5),
  }));
  await json(cnnDir, 'history.json', history);
  const cnnTrain = await artifact(cnnDir, 'train-cnn', 'train', { model: 'cnn', epochs: 6 }, { model: 'cnn', fit_s: 19.4, train_images_per_s: 16701, epochs_run: 6, backend: 'wasm' });
  const lrDir = join(root, 'train-lr');
  await json(lrDir, 'model/weights.json', { w: [0.1, 0.2] });
  await json(lrDir, 'history.json', []);
  const lrTrain = await artifact(lrDir, 'train-lr', 'train', { model: 'logistic-regression' }, { model: 'logistic-regression', fit_s: 4.1, train_images_per_s: 13170, epochs_run: 0, backend: 'js' });

  // Evaluations listed in the opposite order to trainings; the LR one has no content hash (name fallback).
  const evaluations = [
    await evaluation(root, 'evaluate-lr', 'logistic-regression', lrTrain, y, 0.62, false),
    await evaluation(root, 'evaluate-cnn', 'cnn', cnnTrain, y, 0.83, true),
  ];

  // explain: 6 examples and class-mean maps; heat concentrates on the bar.
  const explainDir = join(root, 'explain-cnn');
  const k = 6;
  const images = new Uint8Array(k * 784);
  const heat = new Float32Array(k * 784);
  const examples = [];
  for (let j = 0; j < k; j++) {
    const index = j * 17;
    const img = image(y[index]!, index);
    for (let p = 0; p < 784; p++) {
      images[j * 784 + p] = Math.round(img[p]! * 255);
      const r = Math.floor(p / 28);
      const c = p % 28;
      heat[j * 784 + p] = Math.exp(-((r - 10 - j) ** 2 + (c - 14) ** 2) / 40);
    }
    examples.push({ test_index: index, label: y[index]!, predicted: j === 2 ? (y[index]! + 1) % K : y[index]!, correct: j !== 2, class_index_explained: y[index]!, probability: 0.8 });
  }
  const means = new Float32Array(K * 784);
  for (let c = 0; c < K; c++) for (let p = 0; p < 784; p++) means[c * 784 + p] = 0.3 * Math.exp(-((Math.floor(p / 28) - 14) ** 2 + ((p % 28) - 3 - c * 2.4) ** 2) / 30);
  await json(explainDir, 'gradcam.json', { model: 'cnn', layer: 'conv2d_2', classes: CLASSES, examples });
  await npy(explainDir, 'images.npy', images, [k, 28, 28]);
  await npy(explainDir, 'heatmaps.npy', heat, [k, 28, 28]);
  await npy(explainDir, 'class_mean_heatmaps.npy', means, [K, 28, 28]);
  const explain = await artifact(explainDir, 'explain-cnn', 'explain', { examples_per_class: 1 }, { layer: 'conv2d_2', examples: k, model: 'cnn' });

  const robustness = [await robust(root, 'robustness-cnn', 'cnn', y, 0.83), await robust(root, 'robustness-lr', 'logistic-regression', y, 0.62)];
  return { inspect, data, trainings: [cnnTrain, lrTrain], evaluations, explanations: [explain], robustness };
}

/** A robustness artifact: accuracies falling off from `clean`, and 3 real photo-like renderings with a made-up top 3. */
async function robust(root: string, stage: string, model: string, y: Uint8Array, clean: number): Promise<InputArtifact> {
  const dir = join(root, stage);
  const names = ['clean', 'brightness', 'inversion', 'noise', 'photos'];
  const results = names.map((name, i) => ({ name, count: name === 'photos' ? 20 : N, accuracy: Number((clean * (1 - 0.2 * i)).toFixed(4)) }));
  const file: RobustnessFile = { model, seed: 1, results };
  await json(dir, 'robustness.json', file);
  const inputs = [0, 1, 2].map((i) => {
    const original = Uint8Array.from(image(y[i]!, i), (v) => Math.round(v * 255));
    const rendering = renderPhoto(original, i, 1);
    // Class 2 (the markup class name) always makes the top 3, so escaping is checked here too.
    const proba = Array.from({ length: K }, (_, c) => (c === y[i] ? 0.6 : c === 2 ? 0.25 : 0.15 / (K - 2)));
    return { index: i, label: y[i]!, original, rendering, seen: preprocessImage(rendering.bytes, `photo ${i}`), proba };
  });
  await writeExamples(dir, model, 1, inputs);
  return artifact(dir, stage, 'robustness', { limit: N, photos: 20, seed: 1, examples: 3 }, Object.fromEntries(results.map((r) => [`accuracy_${r.name}`, r.accuracy])));
}
