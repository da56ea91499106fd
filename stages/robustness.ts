/**
 * `robustness`: scores a trained model on named perturbations of the test images (brightness,
 * contrast, inversion, shift, scale, background gradient, noise) and on seeded photo-like
 * renderings of them taken through `pipe predict`'s preprocessing. Test images only: nothing here
 * touches training data. Writes `robustness.json`, and `examples.json` + `examples/*.png` (a few
 * renderings with what the model saw and its top 3, for the report); metrics `accuracy_<name>`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { warp } from './augment.js';
import { outsideUnitRange, readClassIndices, readFloatFeatures } from './data/arrays.js';
import { argmaxRows } from './evaluate/metrics.js';
import { getModel } from './models/index.js';
import { trainedModelName } from './models/trained-name.js';
import { preprocessImage } from './predict/preprocess.js';
import { writeExamples, type ExampleInput } from './robustness/examples.js';
import type { RobustnessFile } from './robustness/format.js';
import { renderPhoto } from './robustness/render.js';
import { num, withDefaults } from './params.js';
import { loadSchema } from './schema.js';
import { StageInputError, type StageDefinition } from './types.js';
import { mulberry32 } from './util/random.js';

const PIXELS = 784;
const schema = loadSchema('stages/robustness');
export const PERTURBATIONS = ['brightness', 'contrast', 'inversion', 'shift', 'scale', 'background', 'noise', 'photos'] as const;
export type Perturbation = (typeof PERTURBATIONS)[number];

/** Fixed-strength pixel perturbations of one [0,1] image; `random` only feeds the noise. */
export function perturbImage(name: Exclude<Perturbation, 'photos'>, image: Float32Array, random: () => number): Float32Array {
  const out = new Float32Array(PIXELS);
  const clip = (v: number) => Math.min(1, Math.max(0, v));
  switch (name) {
    case 'brightness': // an over-exposed object: intensities ×1.4
      image.forEach((v, i) => (out[i] = clip(v * 1.4)));
      break;
    case 'contrast': // a flat, grey photo: half the contrast about mid-grey
      image.forEach((v, i) => (out[i] = clip(0.5 + (v - 0.5) * 0.5)));
      break;
    case 'inversion': // dark-on-light, as a photo is before negation
      image.forEach((v, i) => (out[i] = 1 - v));
      break;
    case 'shift': // an object 3 px off-centre each way
      warp(image, out, 3, 3, 1);
      break;
    case 'scale': // a loose crop: the object at 75%
      warp(image, out, 0, 0, 0.75);
      break;
    case 'background': // uneven light: a left-to-right gradient up to 0.3
      image.forEach((v, i) => (out[i] = clip(v + (0.3 * (i % 28)) / 27)));
      break;
    case 'noise': // sensor noise, σ 0.1
      image.forEach((v, i) => (out[i] = clip(v + 0.1 * (random() + random() + random() - 1.5) * 2)));
      break;
  }
  return out;
}

export const robustness: StageDefinition = {
  kind: 'robustness',
  version: 2, // 2: examples.json and examples/*.png
  description: 'Accuracy of a trained model on named perturbations of the test images and on photo-like renderings of them',
  inputs: [
    { name: 'model', required: true, description: 'Train artifact' },
    { name: 'data', required: true, description: 'Split the model was trained on, pixels in [0,1] (normalize method scale), 784 values per row' },
  ],
  schema,
  usesBackend: true,
  usesModels: true,
  async run(ctx) {
    const trainArtifact = ctx.inputs['model']!;
    const data = ctx.inputs['data']!;
    const name = trainedModelName(trainArtifact);
    if (name === undefined) throw new StageInputError(`robustness: input "${trainArtifact.stage}" is not a train artifact (no params.model)`);
    if (Object.keys(trainArtifact.files).some((f) => f.startsWith('transform/'))) throw new StageInputError(`robustness: model "${trainArtifact.stage}" was trained on pca features; score the pixels model instead (perturbations act on 28×28 pixels)`);
    const def = getModel(name);
    const { x, shape } = await readFloatFeatures(data, 'x_test.npy', 'robustness');
    const total = shape[0] ?? 0;
    if (total === 0 || x.length !== total * PIXELS) throw new StageInputError(`robustness needs 28×28 test images (784 values per row) but ${data.stage}/x_test.npy is ${shape.join('x')}`);
    const span = outsideUnitRange(x);
    if (span) throw new StageInputError(`robustness needs pixels in [0,1] but ${data.stage}/x_test.npy spans [${span[0].toFixed(2)}, ${span[1].toFixed(2)}]: use normalize with method scale`);
    const y = await readClassIndices(data, 'y_test.npy', total);
    // Defaults come from the schema alone (the runner filled them; withDefaults serves direct callers).
    const p = withDefaults(schema, ctx.params, ['perturbations', 'limit', 'photos', 'examples', 'seed']);
    const listed = p.perturbations;
    if (!Array.isArray(listed) || !listed.every((v): v is Perturbation => (PERTURBATIONS as readonly unknown[]).includes(v))) throw new Error(`perturbations is ${JSON.stringify(listed)}, which the schema should have refused`);
    const names: readonly Perturbation[] = listed;
    const n = Math.min(total, num(p, 'limit'));
    const seed = num(p, 'seed');
    const modelShape = (m: number) => (def.input === 'image' ? [m, 28, 28, 1] : [m, PIXELS]);

    const trained = await def.load(join(trainArtifact.dir, 'model'));
    const results: { name: string; count: number; accuracy: number }[] = [];
    try {
      const score = async (label: string, images: Float32Array, m: number) => {
        const proba = await trained.predictProba(images, modelShape(m));
        const predicted = argmaxRows(proba, m, proba.length / m);
        let right = 0;
        for (let i = 0; i < m; i++) if (predicted[i] === y[i]) right++;
        results.push({ name: label, count: m, accuracy: Number((right / m).toFixed(4)) });
      };
      await score('clean', x.subarray(0, n * PIXELS), n);
      for (const [k, perturbation] of names.entries()) {
        ctx.signal.throwIfAborted();
        ctx.progress({ done: k, total: names.length, label: perturbation });
        if (perturbation === 'photos') {
          const m = Math.min(total, num(p, 'photos'));
          const images = new Float32Array(m * PIXELS);
          for (let i = 0; i < m; i++) {
            const pixels = Uint8Array.from(x.subarray(i * PIXELS, (i + 1) * PIXELS), (v) => Math.round(v * 255));
            images.set(preprocessImage(renderPhoto(pixels, i, seed).bytes, `photo ${i}`).pixels, i * PIXELS);
          }
          await score('photos', images, m);
          continue;
        }
        const random = mulberry32(seed);
        const images = new Float32Array(n * PIXELS);
        for (let i = 0; i < n; i++) images.set(perturbImage(perturbation, x.subarray(i * PIXELS, (i + 1) * PIXELS), random), i * PIXELS);
        await score(perturbation, images, n);
      }
      // The photos section's examples: the first renderings of the photo set (same index, same seed).
      const shown = Math.min(total, num(p, 'examples'));
      if (shown > 0) {
        const inputs: Omit<ExampleInput, 'proba'>[] = [];
        const images = new Float32Array(shown * PIXELS);
        for (let i = 0; i < shown; i++) {
          const original = Uint8Array.from(x.subarray(i * PIXELS, (i + 1) * PIXELS), (v) => Math.round(v * 255));
          const rendering = renderPhoto(original, i, seed);
          const seen = preprocessImage(rendering.bytes, `photo ${i}`);
          images.set(seen.pixels, i * PIXELS);
          inputs.push({ index: i, label: y[i]!, original, rendering, seen });
        }
        const proba = await trained.predictProba(images, modelShape(shown));
        const k = proba.length / shown;
        await writeExamples(ctx.outDir, name, seed, inputs.map((e, i) => ({ ...e, proba: proba.subarray(i * k, (i + 1) * k) })));
      }
    } finally {
      trained.dispose?.();
    }
    const file: RobustnessFile = { model: name, seed, results };
    await writeFile(join(ctx.outDir, 'robustness.json'), `${JSON.stringify(file, null, 1)}\n`);
    return { metrics: Object.fromEntries(results.map((r) => [`accuracy_${r.name}`, r.accuracy])) };
  },
};
