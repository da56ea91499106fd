import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../artifacts/npy.js';
import { perturb, perturbParams, type AugmentParams } from '../../stages/augment.js';
import { cnn } from '../../stages/models/cnn.js';
import type { Dataset, FitContext } from '../../stages/models/types.js';
import { perturbImage, PERTURBATIONS } from '../../stages/robustness.js';
import { packageRoot } from '../../stages/schema.js';
import { mulberry32 } from '../../stages/util/random.js';
import { makeRig, type Rig } from '../e2e/rig.js';

const raw = gunzipSync(readFileSync(join(packageRoot(), 'data/fashion-mnist/t10k-images-idx3-ubyte.gz'))).subarray(16);
const image = Float32Array.from(raw.subarray(0, 784), (v) => v / 255);
const DEFAULTS: AugmentParams = perturbParams();

describe('perturb', () => {
  it('takes its default strengths from the augment schema', () => {
    expect(DEFAULTS).toEqual({ shift: 2, scale: [0.9, 1.05], gamma: [0.6, 1.6], background: 0.08, noise: 0.03 });
  });

  it('is the identity with every effect off', () => {
    const out = new Float32Array(784);
    perturb(image, out, { shift: 0, scale: [1, 1], gamma: [1, 1], background: 0, noise: 0 }, mulberry32(1));
    for (let i = 0; i < 784; i++) expect(out[i]).toBeCloseTo(image[i]!, 5);
  });

  it('is deterministic per seed, differs across seeds, and stays in [0,1]', () => {
    const draw = (seed: number) => {
      const out = new Float32Array(784);
      perturb(image, out, DEFAULTS, mulberry32(seed));
      return out;
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    for (const v of draw(9)) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('shifts the object by up to `shift` pixels', () => {
    const mass = (p: Float32Array) => {
      let t = 0;
      let cx = 0;
      for (let i = 0; i < 784; i++) {
        t += p[i]!;
        cx += (i % 28) * p[i]!;
      }
      return cx / t;
    };
    const moves = Array.from({ length: 20 }, (_, seed) => {
      const out = new Float32Array(784);
      perturb(image, out, { shift: 3, scale: [1, 1], gamma: [1, 1], background: 0, noise: 0 }, mulberry32(seed));
      return mass(out) - mass(image);
    });
    expect(Math.max(...moves.map(Math.abs))).toBeLessThanOrEqual(3.2);
    expect(Math.max(...moves.map(Math.abs))).toBeGreaterThan(1);
  });
});

describe('robustness perturbations', () => {
  it('are fixed transforms of the pixels; only noise uses the seed', () => {
    const inverted = perturbImage('inversion', image, mulberry32(1));
    for (let i = 0; i < 784; i++) expect(inverted[i]).toBeCloseTo(1 - image[i]!, 6);
    const shifted = perturbImage('shift', image, mulberry32(1));
    for (let y = 3; y < 28; y++) for (let x = 3; x < 28; x++) expect(shifted[y * 28 + x]).toBeCloseTo(image[(y - 3) * 28 + x - 3]!, 5);
    expect(perturbImage('noise', image, mulberry32(5))).toEqual(perturbImage('noise', image, mulberry32(5)));
    expect(perturbImage('noise', image, mulberry32(5))).not.toEqual(perturbImage('noise', image, mulberry32(6)));
  });
});

describe('augment stage', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  it('adds perturbed copies of x_train only; a model trains on it; standardised pixels are refused by name', async () => {
    await rig.write('aug.yaml', `name: aug
stages:
  load: { kind: load, params: { train_limit: 400, test_limit: 100 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: flatten }, params: { validation: 0.25 } }
  augment: { kind: augment, inputs: { data: split }, params: { copies: 2, seed: 3 } }
  train: { kind: train, inputs: { data: augment }, params: { model: logistic-regression, epochs: 2 } }
  robust: { kind: robustness, inputs: { model: train, data: augment }, params: { limit: 100, photos: 20 } }
`);
    const run = await rig.pipe(['run', 'aug.yaml']);
    expect(run.code, run.stderr).toBe(0);
    const show = async (stage: string) => JSON.parse((await rig.pipe(['show', stage, '--json'])).stdout) as { dir: string; metrics: Record<string, number>; files: Record<string, { sha256: string }> };
    const [split, augmented] = [await show('split'), await show('augment')];
    expect(augmented.metrics['train_count']).toBe(900);
    for (const file of ['x_val.npy', 'y_val.npy', 'x_test.npy', 'y_test.npy']) expect(augmented.files[file]?.sha256).toBe(split.files[file]?.sha256);
    const x = await readNpy(join(augmented.dir, 'x_train.npy'));
    const y = await readNpy(join(augmented.dir, 'y_train.npy'));
    const original = await readNpy(join(split.dir, 'x_train.npy'));
    expect(x.shape).toEqual([900, 784]);
    expect(Array.from(y.data.subarray(300, 600))).toEqual(Array.from(y.data.subarray(0, 300)));
    expect(Array.from(x.data.subarray(0, 784))).toEqual(Array.from(original.data.subarray(0, 784)));
    expect(Array.from(x.data.subarray(300 * 784, 301 * 784))).not.toEqual(Array.from(original.data.subarray(0, 784)));

    // robustness: every named perturbation scored on the test images, photos through predict's path.
    const robust = await show('robust');
    const report = JSON.parse(readFileSync(join(robust.dir, 'robustness.json'), 'utf8')) as { results: Array<{ name: string; count: number; accuracy: number }> };
    expect(report.results.map((r) => r.name)).toEqual(['clean', ...PERTURBATIONS]);
    expect(report.results.find((r) => r.name === 'photos')?.count).toBe(20);
    for (const r of report.results) {
      expect(r.accuracy >= 0 && r.accuracy <= 1).toBe(true);
      expect(robust.metrics[`accuracy_${r.name}`]).toBe(r.accuracy);
    }
    // The photos section's examples: the default 6, each with its three PNGs and a valid top 3.
    const examples = JSON.parse(readFileSync(join(robust.dir, 'examples.json'), 'utf8')) as { examples: { index: number; top: { class: number; probability: number }[]; files: Record<string, string> }[] };
    expect(examples.examples.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const e of examples.examples) {
      expect(e.top).toHaveLength(3);
      expect(e.top[0]!.probability).toBeGreaterThanOrEqual(e.top[2]!.probability);
      for (const f of Object.values(e.files)) expect(robust.files[f]).toBeDefined();
    }
    // Inverting the images is the one perturbation a model trained on the dataset cannot survive.
    expect(robust.metrics['accuracy_inversion']!).toBeLessThan(robust.metrics['accuracy_clean']!);

    await rig.write('bad.yaml', `name: bad
stages:
  load: { kind: load, params: { train_limit: 100, test_limit: 10 } }
  normalize: { kind: normalize, inputs: { data: load }, params: { method: standardize } }
  split: { kind: split, inputs: { data: normalize } }
  augment: { kind: augment, inputs: { data: split } }
`);
    const bad = await rig.pipe(['run', 'bad.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr + bad.stdout).toContain('augment needs pixels in [0,1] but split/x_train.npy spans');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('cnn augment_photo', () => {
  const n = 192;
  const images: Dataset = { x: Float32Array.from(raw.subarray(0, n * 784), (v) => v / 255), shape: [n, 28, 28, 1], y: Uint8Array.from({ length: n }, (_, i) => i % 10), numClasses: 10 };
  const ctx: FitContext = { signal: new AbortController().signal, progress: () => {}, log: () => {}, backend: 'cpu' };
  const fit = async (augmentPhoto: number) => {
    const trained = await cnn.fit(images, undefined, { filters: [4], dense_units: 8, epochs: 1, batch_size: 64, augment_photo: augmentPhoto, seed: 2 }, ctx);
    return trained.predictProba(images.x.subarray(0, 16 * 784), [16, 28, 28, 1]);
  };

  it('trains on photo-like perturbations drawn from the seed: the same seed gives the same model, off gives another', async () => {
    const photo = await fit(0.5);
    expect(await fit(0.5)).toEqual(photo);
    expect(await fit(0)).not.toEqual(photo);
  });
});

