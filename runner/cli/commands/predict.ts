/**
 * `pipe predict <model-artifact|stage> image…`: classifies new PNG/JPEG files with a trained model
 * from the store, after converting each to the dataset's form (see stages/predict/preprocess.ts).
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getModel } from '../../../stages/models/index.js';
import { trainedModelName } from '../../../stages/models/trained-name.js';
import { loadPca, pcaTransform } from '../../../stages/models/pca.js';
import { TRANSFORM_DIR } from '../../../stages/pca.js';
import { CLASS_NAMES } from '../../../stages/data/fashion-mnist.js';
import { preprocessImage, SIZE } from '../../../stages/predict/preprocess.js';
import { openStore, storeRoot, type CommonFlags } from '../context.js';
import type { Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';
import { findKey } from './artifacts.js';

export interface Prediction {
  readonly file: string;
  readonly top: ReadonlyArray<{ readonly class: string; readonly index: number; readonly probability: number }>;
  readonly inverted: boolean;
  readonly empty: boolean;
}

export async function predictCommand(
  target: string,
  images: readonly string[],
  flags: CommonFlags & { json?: boolean; top?: string },
  write: Output,
): Promise<number> {
  if (images.length === 0) throw new UsageError('pipe predict needs image files: pipe predict train-cnn photo.png [more.jpg …]');
  const topK = flags.top === undefined ? 3 : Number(flags.top);
  if (!Number.isInteger(topK) || topK < 1) throw new UsageError(`--top must be a positive integer (got "${flags.top}")`);
  const root = storeRoot(flags);
  const store = await openStore(root);
  const key = await findKey(target, root, await store.keys());
  const manifest = await store.readManifest(key);
  const dir = store.artifactDir(key);
  const modelName = manifest ? trainedModelName({ params: manifest.key_record.params, metrics: manifest.metrics }) : undefined;
  if (!manifest || modelName === undefined || !existsSync(join(dir, 'model'))) {
    throw new UsageError(`"${target}" (${manifest?.stage ?? key.slice(0, 12)}, kind ${manifest?.kind ?? '?'}) is not a trained model; give a train or select stage, or its artifact hash (see pipe ls)`);
  }
  const def = getModel(modelName);
  const classes = existsSync(join(dir, 'classes.json')) ? (JSON.parse(await readFile(join(dir, 'classes.json'), 'utf8')) as string[]) : CLASS_NAMES;

  // Decode every file before loading the model, so a bad file fails fast and is named.
  const prepared = await Promise.all(images.map(async (file) => ({ file, image: preprocessImage(await readFile(file).catch(() => {
    throw new UsageError(`cannot read image file ${file}`);
  }), file) })));
  const trained = await def.load(join(dir, 'model'));
  const results: Prediction[] = [];
  try {
    const x = new Float32Array(prepared.length * SIZE * SIZE);
    prepared.forEach((p, i) => x.set(p.image.pixels, i * SIZE * SIZE));
    let features: Float32Array = x;
    let shape = def.input === 'image' ? [prepared.length, SIZE, SIZE, 1] : [prepared.length, SIZE * SIZE];
    // A model trained after a `pca` stage expects the projected features: apply the same projection.
    const transform = join(dir, TRANSFORM_DIR);
    if (def.input === 'flat' && existsSync(join(transform, 'pca.json'))) {
      const projection = await loadPca(transform);
      features = await pcaTransform(projection, x, prepared.length);
      shape = [prepared.length, projection.k];
    }
    const proba = await trained.predictProba(features, shape);
    const k = proba.length / prepared.length;
    prepared.forEach((p, i) => {
      const row = Array.from(proba.subarray(i * k, (i + 1) * k), (probability, index) => ({ index, probability, class: classes[index] ?? String(index) }));
      row.sort((a, b) => b.probability - a.probability || a.index - b.index);
      results.push({ file: p.file, top: row.slice(0, topK), inverted: p.image.inverted, empty: p.image.empty });
    });
  } finally {
    trained.dispose?.();
  }
  if (flags.json) {
    write(`${JSON.stringify({ model: modelName, stage: manifest.stage, artifact: key, backend: trained.backend, predictions: results }, null, 2)}\n`);
    return 0;
  }
  write(`${modelName} from ${manifest.stage} (${key.slice(0, 12)}), backend ${trained.backend}\n`);
  for (const r of results) {
    const notes = [r.inverted ? 'light background inverted' : '', r.empty ? 'no object found: whole image used' : ''].filter(Boolean);
    write(`\n${r.file}${notes.length ? `  (${notes.join('; ')})` : ''}\n`);
    for (const t of r.top) write(`  ${(t.probability * 100).toFixed(1).padStart(5)}%  ${t.class}\n`);
  }
  return 0;
}
