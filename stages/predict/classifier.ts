/**
 * A trained model from the store, ready to classify preprocessed 28×28 images: applies the
 * pipeline's `normalize` scaling (found through the model's inputs) and its `pca` projection if
 * any, so new images get the same features the model was trained and evaluated on.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactReader, InputRef, Manifest } from '../../artifacts/store.js';
import { CLASS_NAMES } from '../data/fashion-mnist.js';
import { getModel } from '../models/index.js';
import { loadPca, pcaTransform } from '../models/pca.js';
import { trainedModelName } from '../models/trained-name.js';
import { TRANSFORM_DIR } from '../pca.js';
import { SIZE } from './preprocess.js';

/** How the pipeline's `normalize` stage mapped uint8 pixels v to features: (v − offset)·scale. */
export interface Scaling {
  readonly offset: number;
  readonly scale: number;
}

/**
 * Walks the model's inputs back to the `normalize` stage that fed it, so a model trained on
 * standardised pixels gets standardised pixels here too (not [0,1]).
 */
export async function inputScaling(store: ArtifactReader, manifest: Manifest): Promise<Scaling> {
  const byContent = new Map<string, Manifest>();
  for (const key of await store.keys()) {
    const m = await store.readManifest(key);
    if (m) byContent.set(m.content_hash, m);
  }
  const queue: Manifest[] = [manifest];
  const seen = new Set<string>();
  while (queue.length) {
    const m = queue.shift()!;
    if (seen.has(m.content_hash)) continue;
    seen.add(m.content_hash);
    if (m.kind === 'normalize') {
      const { offset, scale } = m.metrics;
      if (typeof offset === 'number' && typeof scale === 'number') return { offset, scale };
    }
    for (const ref of Object.values(m.inputs).flatMap((r): readonly InputRef[] => (isRefList(r) ? r : [r]))) {
      const parent = byContent.get(ref.content_hash);
      if (parent) queue.push(parent);
    }
  }
  return { offset: 0, scale: 1 / 255 }; // the `normalize` default: x/255
}


export interface Classifier {
  readonly model: string;
  readonly classes: readonly string[];
  readonly backend: string;
  /** Row-major probabilities [n, classes] for n images of 784 values in [0,1]. */
  predict(images: readonly Float32Array[]): Promise<Float32Array>;
  dispose(): void;
}

/** Undefined when the artifact is not a trained model (no model files, or not a train/select stage). */
export function modelNameOf(manifest: Manifest, dir: string): string | undefined {
  const name = trainedModelName({ params: manifest.key_record.params, metrics: manifest.metrics });
  return name !== undefined && existsSync(join(dir, 'model')) ? name : undefined;
}

export async function loadClassifier(store: ArtifactReader, manifest: Manifest): Promise<Classifier> {
  const dir = store.artifactDir(manifest.key);
  const name = modelNameOf(manifest, dir);
  if (name === undefined) throw new Error(`${manifest.stage} is not a trained model`);
  const def = getModel(name);
  const classes = existsSync(join(dir, 'classes.json')) ? (JSON.parse(await readFile(join(dir, 'classes.json'), 'utf8')) as string[]) : CLASS_NAMES;
  const scaling = await inputScaling(store, manifest);
  const transform = join(dir, TRANSFORM_DIR);
  const projection = def.input === 'flat' && existsSync(join(transform, 'pca.json')) ? await loadPca(transform) : undefined;
  const trained = await def.load(join(dir, 'model'));
  return {
    model: name,
    classes,
    backend: trained.backend,
    async predict(images) {
      const n = images.length;
      const x = new Float32Array(n * SIZE * SIZE);
      // The same arithmetic as `normalize` on the uint8 value, so dataset images give identical features.
      images.forEach((pixels, i) => pixels.forEach((p, j) => (x[i * SIZE * SIZE + j] = (Math.round(p * 255) - scaling.offset) * scaling.scale)));
      if (projection) return trained.predictProba(await pcaTransform(projection, x, n), [n, projection.k]);
      return trained.predictProba(x, def.input === 'image' ? [n, SIZE, SIZE, 1] : [n, SIZE * SIZE]);
    },
    dispose() {
      trained.dispose?.();
    },
  };
}

function isRefList(ref: InputRef | readonly InputRef[]): ref is readonly InputRef[] {
  return Array.isArray(ref);
}
