/** Test-time augmentation of the ensemble model: flip averages each member on the image and its mirror. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { averageProba, ENSEMBLE_TTAS, mirrorImages, readEnsembleFile, shiftImages, type LoadedMember } from '../../stages/models/ensemble.js';
import type { ModelDefinition } from '../../stages/models/types.js';

/** A flat "model" whose two-class probabilities are the first pixel of each row and its complement. */
const leftPixel: LoadedMember = {
  def: { name: 'left', input: 'flat' } as unknown as ModelDefinition,
  trained: {
    backend: 'cpu',
    predictProba: (x, shape) => {
      const n = shape[0] ?? 0;
      const out = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) {
        out[i * 2] = x[i * 784]!;
        out[i * 2 + 1] = 1 - x[i * 784]!;
      }
      return Promise.resolve(out);
    },
    save: () => Promise.resolve(),
  },
  weight: 1,
  projection: undefined,
};

describe('ensemble tta', () => {
  // Two images: the first with 0.2 in its top-left and 0.8 in its top-right pixel, the second blank.
  const x = new Float32Array(2 * 784);
  x[0] = 0.2;
  x[27] = 0.8;

  it('mirrors each 28-pixel row, and twice is the identity', () => {
    const m = mirrorImages(x, 2);
    expect([m[0], m[27]]).toEqual([Math.fround(0.8), Math.fround(0.2)]);
    expect(mirrorImages(m, 2)).toEqual(x);
  });

  it('flip averages the member on the image and on its mirror; none uses the image only', async () => {
    const none = await averageProba([leftPixel], x, [2, 784], 2, () => 'left', 'none');
    const flip = await averageProba([leftPixel], x, [2, 784], 2, () => 'left', 'flip');
    expect(Array.from(none)).toEqual([0.2, 0.8, 0, 1].map(Math.fround));
    expect(flip[0]).toBeCloseTo(0.5, 6);
    expect(flip[1]).toBeCloseTo(0.5, 6);
    expect(Array.from(flip.subarray(2))).toEqual([0, 1]);
  });

  it('shifts by whole pixels with zero fill, and a shift and its inverse keep every interior pixel', () => {
    const right = shiftImages(x, 2, 1, 0);
    expect([right[0], right[1], right[27]]).toEqual([0, Math.fround(0.2), 0]);
    const down = shiftImages(x, 2, 0, 1);
    expect([down[0], down[28], down[28 + 27]]).toEqual([0, Math.fround(0.2), Math.fround(0.8)]);
    const img = new Float32Array(784).map((_, i) => i);
    const back = shiftImages(shiftImages(img, 1, -1, 1), 1, 1, -1);
    for (let r = 0; r < 27; r++) for (let c = 1; c < 28; c++) expect(back[r * 28 + c]).toBe(img[r * 28 + c]);
    expect(back[27 * 28 + 5]).toBe(0);
  });

  it('shift averages the member over the image and its four 1-pixel translations', async () => {
    // The first pixel is 0.2 in the image, 0 in the translations right and down (zero fill), and
    // x[1] = 0 (left) and x[28] = 0 (up): the mean is 0.2 / 5.
    const shift = await averageProba([leftPixel], x, [2, 784], 2, () => 'left', 'shift');
    expect(shift[0]).toBeCloseTo(0.04, 6);
    expect(shift[1]).toBeCloseTo(0.96, 6);
    const y = new Float32Array(784);
    y[1] = 1;
    y[28] = 0.5;
    const moved = await averageProba([leftPixel], y, [1, 784], 2, () => 'left', 'shift');
    expect(moved[0]).toBeCloseTo(1.5 / 5, 6);
  });

  it("the stage schema's tta enum is the reader's list", () => {
    const schema = JSON.parse(readFileSync(new URL('../../schemas/stages/ensemble.schema.json', import.meta.url), 'utf8')) as { properties: { tta: { enum: string[] } } };
    expect(schema.properties.tta.enum).toEqual([...ENSEMBLE_TTAS]);
  });

  it('an ensemble.json written before tta existed reads as tta none; an unknown tta is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipe-tta-'));
    try {
      await writeFile(join(dir, 'ensemble.json'), JSON.stringify({ weighting: 'mean', classes: 2, members: [{ model: 'mlp', dir: 'members/0', weight: 1 }] }));
      expect((await readEnsembleFile(dir)).tta).toBe('none');
      await writeFile(join(dir, 'ensemble.json'), JSON.stringify({ weighting: 'mean', tta: 'rotate', classes: 2, members: [{ model: 'mlp', dir: 'members/0', weight: 1 }] }));
      await expect(readEnsembleFile(dir)).rejects.toThrow(/tta must be "none", "flip", "shift"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
