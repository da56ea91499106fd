import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../stages/predict/decode.js';
import { preprocessImage } from '../../stages/predict/preprocess.js';
import { BACKGROUNDS, renderPhoto } from '../../stages/robustness/render.js';
import { packageRoot } from '../../stages/schema.js';

const raw = gunzipSync(readFileSync(join(packageRoot(), 'data/fashion-mnist/t10k-images-idx3-ubyte.gz'))).subarray(16);
const testImage = (i: number) => raw.subarray(i * 784, (i + 1) * 784);

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= a.length;
  mb /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('photo-like renderer', () => {
  const count = 30;
  const photos = Array.from({ length: count }, (_, i) => renderPhoto(testImage(i), i, 1));

  it('is deterministic per (image, index, seed) and varies with the seed', () => {
    expect(renderPhoto(testImage(3), 3, 1).bytes.equals(photos[3]!.bytes)).toBe(true);
    expect(renderPhoto(testImage(3), 3, 2).bytes.equals(photos[3]!.bytes)).toBe(false);
  });

  it('covers every background, both formats and 96–400 px, with colour', () => {
    expect(new Set(photos.map((p) => p.background))).toEqual(new Set(BACKGROUNDS));
    expect(new Set(photos.map((p) => p.format))).toEqual(new Set(['png', 'jpeg']));
    let coloured = 0;
    for (const photo of photos) {
      const decoded = decodeImage(photo.bytes, 'photo');
      expect([decoded.width, decoded.height]).toEqual([photo.width, photo.height]);
      for (const side of [photo.width, photo.height]) expect(side >= 96 && side <= 400).toBe(true);
      const { rgba } = decoded;
      let spread = 0;
      for (let i = 0; i < rgba.length; i += 4) spread = Math.max(spread, Math.max(rgba[i]!, rgba[i + 1]!, rgba[i + 2]!) - Math.min(rgba[i]!, rgba[i + 1]!, rgba[i + 2]!));
      if (spread > 60) coloured++;
    }
    expect(coloured).toBeGreaterThan(count / 2);
  });

  it('preprocessing a rendering gives back the test image it was made from', () => {
    // Pixel correlation with the source image: ~0.97 typically; lower only where the renderer pushed
    // the garment over an edge (its cut-off part cannot come back) or a 1-px shift on fine texture.
    const seen = photos.map((photo, i) => preprocessImage(photo.bytes, `photo-${i}`));
    const scores = seen.map((image, i) => correlation(image.pixels, testImage(i))).sort((a, b) => a - b);
    expect(scores[Math.floor(count / 2)]).toBeGreaterThan(0.93);
    expect(scores[Math.floor(count / 10)]).toBeGreaterThan(0.75);
    // And no rendering gets lost: each one's object is found with confidence.
    for (const image of seen) expect(image.empty).toBe(false);
  });
});
