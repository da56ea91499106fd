/**
 * Photo-like accuracy of a trained model: renders seeded product-style photos of TEST images
 * (stages/robustness/render.ts), runs them through predict's preprocessing and the model, and
 * compares with the same items' own 28×28 images.
 *   node dist/bench/photo-score.js MODEL [--store .pipe] [--pipeline FILE] [--count 200] [--seed 1] [--save DIR]
 * MODEL is what `pipe predict` takes (stage, FILE.yaml:STAGE or artifact hash).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../runner/cli/context.js';
import { resolveArtifact } from '../runner/cli/commands/resolve-artifact.js';
import { CLASS_NAMES } from '../stages/data/fashion-mnist.js';
import { parseImages, parseLabels, readMaybeGzip } from '../stages/data/idx.js';
import { loadClassifier } from '../stages/predict/classifier.js';
import { preprocessImage } from '../stages/predict/preprocess.js';
import { BACKGROUNDS, renderPhoto } from '../stages/robustness/render.js';
import { ROOT } from './cli.js';

const argmax = (p: Float32Array, i: number, k: number): number => {
  let best = 0;
  for (let j = 1; j < k; j++) if (p[i * k + j]! > p[i * k + best]!) best = j;
  return best;
};

const { values, positionals } = parseArgs({ options: { store: { type: 'string' }, pipeline: { type: 'string' }, count: { type: 'string' }, seed: { type: 'string' }, save: { type: 'string' } }, allowPositionals: true });
const target = positionals[0];
if (!target) {
  process.stderr.write('usage: node dist/bench/photo-score.js MODEL [--store .pipe] [--pipeline FILE] [--count 200] [--seed 1] [--save DIR]\n');
  process.exit(2);
}
const count = Number(values.count ?? 200);
const seed = Number(values.seed ?? 1);
const root = values.store ?? process.env['PIPE_STORE'] ?? '.pipe';
const store = await openStore(root);
const key = await resolveArtifact(target, root, store, values.pipeline === undefined ? {} : { pipeline: values.pipeline });
const manifest = (await store.readManifest(key))!;
const data = join(ROOT, 'data', 'fashion-mnist');
const images = parseImages(await readMaybeGzip(join(data, 't10k-images-idx3-ubyte.gz')), 't10k-images');
const labels = parseLabels(await readMaybeGzip(join(data, 't10k-labels-idx1-ubyte.gz')), 't10k-labels', CLASS_NAMES.length);

const started = Date.now();
const photos: Float32Array[] = [];
const originals: Float32Array[] = [];
const kinds: string[] = [];
if (values.save) mkdirSync(values.save, { recursive: true });
for (let i = 0; i < count; i++) {
  const pixels = images.pixels.subarray(i * 784, (i + 1) * 784);
  const photo = renderPhoto(pixels, i, seed);
  if (values.save) writeFileSync(join(values.save, `${String(i).padStart(5, '0')}-${photo.background}.${photo.format === 'jpeg' ? 'jpg' : 'png'}`), photo.bytes);
  photos.push(preprocessImage(photo.bytes, `photo ${i}`).pixels);
  originals.push(Float32Array.from(pixels, (v) => v / 255));
  kinds.push(photo.background);
}
const classifier = await loadClassifier(store, manifest);
const onPhotos = await classifier.predict(photos);
const onOriginals = await classifier.predict(originals);
classifier.dispose();
const k = classifier.classes.length;
const score = (proba: Float32Array, keep: (i: number) => boolean) => {
  let right = 0;
  let n = 0;
  for (let i = 0; i < count; i++) if (keep(i)) {
    n++;
    if (argmax(proba, i, k) === labels[i]) right++;
  }
  return { n, accuracy: n ? right / n : 0 };
};
const result = {
  model: `${manifest.pipeline}:${manifest.stage}`,
  artifact: key.slice(0, 12),
  count,
  seed,
  photo_accuracy: score(onPhotos, () => true).accuracy,
  raw_accuracy: score(onOriginals, () => true).accuracy,
  by_background: Object.fromEntries(BACKGROUNDS.map((b) => [b, score(onPhotos, (i) => kinds[i] === b)])),
  seconds: (Date.now() - started) / 1000,
};
process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
