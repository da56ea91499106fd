/** Test-time augmentation of the ensemble model: flip averages each member on the image and its mirror. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { averageProba, mirrorImages, readEnsembleFile, type LoadedMember } from '../../stages/models/ensemble.js';
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

  it('an ensemble.json written before tta existed reads as tta none; an unknown tta is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipe-tta-'));
    try {
      await writeFile(join(dir, 'ensemble.json'), JSON.stringify({ weighting: 'mean', classes: 2, members: [{ model: 'mlp', dir: 'members/0', weight: 1 }] }));
      expect((await readEnsembleFile(dir)).tta).toBe('none');
      await writeFile(join(dir, 'ensemble.json'), JSON.stringify({ weighting: 'mean', tta: 'rotate', classes: 2, members: [{ model: 'mlp', dir: 'members/0', weight: 1 }] }));
      await expect(readEnsembleFile(dir)).rejects.toThrow(/tta must be "none" or "flip"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
