/**
 * The `ensemble` model: a weighted average of several trained models' class probabilities. It is
 * built by the `ensemble` stage (never by `train`) and saved like any model under model/, so
 * evaluate, robustness and `pipe predict` load it through the same registry path as a train artifact.
 *
 * Saved layout (docs/artifact-formats.md): model/ensemble.json plus, per member i,
 * model/members/<i>/model/ (the member's model/ files) and model/members/<i>/transform/ (its pca
 * projection, if it was trained on a `pca` stage's output).
 *
 * Input form: the ensemble takes 28×28 images ([N,28,28,1], or the same values flat as [N,784]) and
 * feeds each member its own form: the image as is for image models, the same row-major values as
 * [N,784] for flat models, and their pca projection for members trained on one. So cnn, resnet, mlp
 * and svm can be members of one ensemble. Members must come from the same `normalize` scaling.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelFilesError } from '../errors.js';
import { StageInputError } from '../types.js';
import { loadPca, pcaTransform, type Pca } from './pca.js';
import type { ModelDefinition, TrainedModel } from './types.js';

export const ENSEMBLE_FILE = 'ensemble.json';
/** Test-time augmentation: the views of each image a member is averaged over (ttaViews). */
export const ENSEMBLE_TTAS = ['none', 'flip', 'shift'] as const;
export type EnsembleTta = (typeof ENSEMBLE_TTAS)[number];
const isTta = (v: unknown): v is EnsembleTta => (ENSEMBLE_TTAS as readonly unknown[]).includes(v);
const PIXELS = 28 * 28;

/** model/ensemble.json. */
export interface EnsembleFile {
  readonly weighting: 'mean' | 'validation';
  /** Test-time augmentation (absent in files written before it existed: none). */
  readonly tta: EnsembleTta;
  readonly classes: number;
  /** In the order the pipeline lists them; `dir` is relative to model/, weights sum to 1. */
  readonly members: readonly { readonly model: string; readonly dir: string; readonly weight: number }[];
}

/** The validating reader of model/ensemble.json. */
export async function readEnsembleFile(modelDir: string): Promise<EnsembleFile> {
  const file = join(modelDir, ENSEMBLE_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ModelFilesError(modelDir, (error as Error).message, ENSEMBLE_FILE);
  }
  const bad = (why: string): never => {
    throw new ModelFilesError(modelDir, why, ENSEMBLE_FILE);
  };
  if (typeof raw !== 'object' || raw === null) return bad('not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o['weighting'] !== 'mean' && o['weighting'] !== 'validation') bad('weighting must be "mean" or "validation"');
  const tta = o['tta'] ?? 'none';
  if (!isTta(tta)) return bad(`tta must be ${ENSEMBLE_TTAS.map((t) => `"${t}"`).join(', ')}`);
  const classes = o['classes'];
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1) bad('classes must be a positive integer');
  const members = o['members'];
  if (!Array.isArray(members) || members.length === 0) return bad('members must be a non-empty list');
  for (const m of members as unknown[]) {
    const r = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
    if (typeof r['model'] !== 'string' || typeof r['dir'] !== 'string' || typeof r['weight'] !== 'number' || !(r['weight'] >= 0)) {
      bad('each member needs model (string), dir (string) and weight (number ≥ 0)');
    }
    if (typeof r['dir'] === 'string' && (r['dir'].includes('..') || r['dir'].startsWith('/'))) bad(`member dir "${r['dir']}" leaves model/`);
  }
  return { ...(raw as Omit<EnsembleFile, 'tta'>), tta };
}

/** The same 28×28 images mirrored left-right (row-major rows of 784 values). */
export function mirrorImages(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < 28; r++) {
      const row = i * PIXELS + r * 28;
      for (let c = 0; c < 28; c++) out[row + c] = x[row + 27 - c]!;
    }
  }
  return out;
}

/**
 * The same 28×28 images translated by (dx, dy) pixels, zero fill: the same translation and fill as
 * training's augment_shift (stages/models/tf/loop.ts), so a member trained with it sees familiar images.
 */
export function shiftImages(x: Float32Array, n: number, dx: number, dy: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const base = i * PIXELS;
    for (let r = 0; r < 28; r++) {
      const sr = r - dy;
      if (sr < 0 || sr >= 28) continue;
      for (let c = 0; c < 28; c++) {
        const sc = c - dx;
        if (sc >= 0 && sc < 28) out[base + r * 28 + c] = x[base + sr * 28 + sc]!;
      }
    }
  }
  return out;
}

/** The views a member is averaged over: the image alone, plus its mirror (flip) or its four 1-pixel shifts (shift). */
export function ttaViews(x: Float32Array, n: number, tta: EnsembleTta): Float32Array[] {
  switch (tta) {
    case 'none':
      return [x];
    case 'flip':
      return [x, mirrorImages(x, n)];
    case 'shift':
      return [x, shiftImages(x, n, 1, 0), shiftImages(x, n, -1, 0), shiftImages(x, n, 0, 1), shiftImages(x, n, 0, -1)];
  }
}

export interface LoadedMember {
  readonly def: ModelDefinition;
  readonly trained: TrainedModel;
  readonly weight: number;
  readonly projection: Pca | undefined;
}

/** Each member's features from 784-value image rows: its own form (see the header). */
async function memberProba(m: LoadedMember, x: Float32Array, n: number): Promise<Float32Array> {
  if (m.projection) return m.trained.predictProba(await pcaTransform(m.projection, x, n), [n, m.projection.k]);
  return m.trained.predictProba(x, m.def.input === 'image' ? [n, 28, 28, 1] : [n, PIXELS]);
}

/** The mean of the member's probabilities over the tta views (views[0] is the image itself). */
async function memberProbaTta(m: LoadedMember, views: readonly Float32Array[], n: number): Promise<Float32Array> {
  const p = await memberProba(m, views[0]!, n);
  if (views.length === 1) return p;
  for (const view of views.slice(1)) {
    const q = await memberProba(m, view, n);
    for (let j = 0; j < p.length; j++) p[j]! += q[j]!;
  }
  return p.map((v) => v / views.length);
}

/** The weighted average of member probabilities, row-major [n, classes]; a member of another width is refused. */
export async function averageProba(members: readonly LoadedMember[], x: Float32Array, shape: readonly number[], classes: number, label: (i: number) => string, tta: EnsembleTta): Promise<Float32Array> {
  const n = shape[0]!;
  if (x.length !== n * PIXELS) {
    throw new StageInputError(`ensemble: needs 28×28 images ([N,28,28,1] or [N,784]) but got [${shape.join(',')}]`);
  }
  const out = new Float32Array(n * classes);
  const views = ttaViews(x, n, tta);
  for (const [i, m] of members.entries()) {
    const p = await memberProbaTta(m, views, n);
    if (p.length !== n * classes) {
      throw new StageInputError(`ensemble: member ${label(i)} predicts ${p.length / n} classes but the ensemble has ${classes}`);
    }
    for (let j = 0; j < out.length; j++) out[j]! += m.weight * p[j]!;
  }
  return out;
}

/** Loads the members a saved ensemble names, through `lookup` (the model registry). */
export async function loadMembers(modelDir: string, file: EnsembleFile, lookup: (name: string) => ModelDefinition): Promise<LoadedMember[]> {
  const loaded: LoadedMember[] = [];
  try {
    for (const m of file.members) {
      const def = lookup(m.model);
      const root = join(modelDir, m.dir);
      const transform = join(root, 'transform');
      const projection = existsSync(join(transform, 'pca.json')) ? await loadPca(transform) : undefined;
      loaded.push({ def, trained: await def.load(join(root, 'model')), weight: m.weight, projection });
    }
  } catch (error) {
    for (const m of loaded) m.trained.dispose?.();
    throw error;
  }
  return loaded;
}

/** `lookup` is the registry's getModel, passed in so this module does not import the registry (no cycle). */
export function ensembleModel(lookup: (name: string) => ModelDefinition): ModelDefinition {
  return {
    name: 'ensemble',
    version: 1,
    description: 'Weighted average of trained models’ class probabilities (built by the ensemble stage)',
    input: 'image',
    schema: { type: 'object', additionalProperties: false, properties: {} },
    params: [],
    fit() {
      return Promise.reject(new StageInputError('an ensemble is built by the `ensemble` stage from trained models, not by `train`'));
    },
    async load(dir) {
      const file = await readEnsembleFile(dir);
      const members = await loadMembers(dir, file, lookup);
      return {
        backend: [...new Set(members.map((m) => m.trained.backend))].join('+'),
        predictProba: (x, shape) => averageProba(members, x, shape, file.classes, (i) => `${i} (${file.members[i]!.model})`, file.tta),
        save() {
          return Promise.reject(new Error('a loaded ensemble is saved by the ensemble stage, which copies its members'));
        },
        dispose() {
          for (const m of members) m.trained.dispose?.();
        },
      };
    },
  };
}
