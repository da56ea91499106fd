/**
 * `augment`: adds photo-like perturbed copies of the training images, for any model. Each copy
 * draws a shift, zoom, gamma, background gradient and noise level from the seed; what a photo does
 * to an image after predict's preprocessing (a loose or off-centre box, other channel weights and
 * exposure, uneven light, sensor and JPEG noise). Validation and test images pass through
 * untouched, so scores stay comparable with unaugmented models. Deterministic per seed.
 */
import { StageInputError, type Params, type StageDefinition } from './types.js';
import { carry, outsideUnitRange, readFeatures, readLabels, writeArray } from './data/arrays.js';
import { bool, num, withDefaults, type Resolved } from './params.js';
import { loadSchema } from './schema.js';
import { mulberry32 } from './util/random.js';

const SIDE = 28;
const PIXELS = SIDE * SIDE;

export interface AugmentParams {
  readonly shift: number;
  readonly scale: readonly [number, number];
  readonly gamma: readonly [number, number];
  readonly background: number;
  readonly noise: number;
}

/** One perturbed copy of a 784-pixel image in [0,1], written to `out`. */
export function perturb(image: Float32Array, out: Float32Array, params: AugmentParams, random: () => number): void {
  const between = ([lo, hi]: readonly [number, number]) => lo + random() * (hi - lo);
  const dx = (random() * 2 - 1) * params.shift;
  const dy = (random() * 2 - 1) * params.shift;
  const zoom = between(params.scale);
  // Gamma drawn on a log scale so darkening and brightening are equally likely.
  const gamma = Math.exp(between([Math.log(params.gamma[0]), Math.log(params.gamma[1])]));
  const level = random() * params.background;
  const angle = random() * 2 * Math.PI;
  const sigma = random() * params.noise;
  warp(image, out, dx, dy, zoom);
  const c = (SIDE - 1) / 2;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const v = out[y * SIDE + x]! ** gamma;
      // Gradient from 0 to `level` across the frame in a random direction.
      const g = level * (0.5 + ((x - c) * Math.cos(angle) + (y - c) * Math.sin(angle)) / (2 * SIDE));
      const n = sigma * (random() + random() + random() - 1.5) * 2;
      out[y * SIDE + x] = Math.min(1, Math.max(0, v + g + n));
    }
  }
}

/** Shifts by (dx, dy) pixels and zooms about the centre, bilinear; outside the frame is black. */
export function warp(image: Float32Array, out: Float32Array, dx: number, dy: number, zoom: number): void {
  const c = (SIDE - 1) / 2;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      // Inverse map: output (x, y) samples the source at the unshifted, unzoomed position.
      const sx = (x - c - dx) / zoom + c;
      const sy = (y - c - dy) / zoom + c;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const at = (xx: number, yy: number) => (xx >= 0 && xx < SIDE && yy >= 0 && yy < SIDE ? image[yy * SIDE + xx]! : 0);
      out[y * SIDE + x] = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
    }
  }
}

const schema = loadSchema('stages/augment');
const PERTURB_PARAMS = ['shift', 'scale', 'gamma', 'background', 'noise'] as const;

function range(p: Resolved<(typeof PERTURB_PARAMS)[number]>, key: 'scale' | 'gamma'): [number, number] {
  const v = p[key];
  // The schema allows only pairs of positive numbers: anything else is a bug.
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') throw new Error(`${key} is ${JSON.stringify(v)}, which the schema should have refused`);
  return [v[0], v[1]];
}

/**
 * The perturbation strengths from augment params, defaults from the augment schema alone. Also what
 * the cnn/resnet `augment_photo` option uses, so the stage and the option simulate the same photos.
 */
export function perturbParams(params: Params = {}): AugmentParams {
  const p = withDefaults(schema, params, PERTURB_PARAMS);
  return { shift: num(p, 'shift'), scale: range(p, 'scale'), gamma: range(p, 'gamma'), background: num(p, 'background'), noise: num(p, 'noise') };
}

export const augment: StageDefinition = {
  kind: 'augment',
  version: 1,
  description: 'Add photo-like perturbed copies of the training images (shift, zoom, gamma, background, noise); validation/test untouched',
  inputs: [{ name: 'data', required: true, description: 'a split artifact of [0,1] pixels (normalize method scale), images or flat rows of 784' }],
  schema,
  async run(ctx) {
    const data = ctx.inputs['data']!;
    if (!data.has('x_val.npy')) throw new StageInputError(`augment needs a split artifact (x_train, x_val, x_test) but ${data.stage} has no x_val.npy; put augment after split, so validation images stay unperturbed`);
    const x = await readFeatures(data, 'train');
    const y = await readLabels(data, 'train');
    if (!(x.data instanceof Float32Array)) throw new StageInputError(`augment needs float32 pixels in [0,1]; ${data.stage}/x_train.npy is ${x.dtype}: add a normalize stage (method scale) before split`);
    const n = y.length;
    if (x.data.length !== n * PIXELS) throw new StageInputError(`augment needs 28×28 images (784 values per row) but ${data.stage}/x_train.npy is ${x.shape.join('x')}; put augment before pca`);
    const span = outsideUnitRange(x.data);
    if (span) throw new StageInputError(`augment needs pixels in [0,1] but ${data.stage}/x_train.npy spans [${span[0].toFixed(2)}, ${span[1].toFixed(2)}]: use normalize with method scale (standardized pixels have no fixed black)`);
    const p = withDefaults(schema, ctx.params, ['copies', 'keep_original', 'seed']);
    const copies = num(p, 'copies');
    const keep = bool(p, 'keep_original');
    const params = perturbParams(ctx.params);
    const random = mulberry32(num(p, 'seed'));
    const total = (keep ? n : 0) + copies * n;
    const out = new Float32Array(total * PIXELS);
    const labels = new Uint8Array(total);
    let row = 0;
    if (keep) {
      out.set(x.data);
      labels.set(y);
      row = n;
    }
    for (let copy = 0; copy < copies; copy++) {
      for (let i = 0; i < n; i++, row++) {
        perturb(x.data.subarray(i * PIXELS, (i + 1) * PIXELS), out.subarray(row * PIXELS, (row + 1) * PIXELS), params, random);
        labels[row] = y[i]!;
      }
    }
    await writeArray(ctx.outDir, 'x_train.npy', out, [total, ...x.shape.slice(1)]);
    await writeArray(ctx.outDir, 'y_train.npy', labels, [total]);
    await carry(data, ctx.outDir, ['x_val.npy', 'y_val.npy', 'x_test.npy', 'y_test.npy', 'classes.json', ...(data.has('val_indices.npy') ? ['val_indices.npy'] : [])]);
    return { metrics: { train_count: total, augmented: copies * n } };
  },
};
