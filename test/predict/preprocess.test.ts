import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { ImageFileError, jpegOrientation, preprocessImage } from '../../stages/predict/preprocess.js';
import { packageRoot } from '../../stages/schema.js';

type Rgba = [number, number, number, number];

/** A w×h image of `background` with a `fill` rectangle at (x, y, rw, rh). */
function canvas(w: number, h: number, background: Rgba, rect?: { x: number; y: number; w: number; h: number; fill: Rgba }): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = rect && x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h;
      data.set(inside ? rect.fill : background, (y * w + x) * 4);
    }
  }
  return data;
}

function png(w: number, h: number, rgba: Buffer): Buffer {
  const image = new PNG({ width: w, height: h });
  rgba.copy(image.data);
  return PNG.sync.write(image);
}

const rowSums = (p: Float32Array) => Array.from({ length: 28 }, (_, r) => p.subarray(r * 28, r * 28 + 28).reduce((a, b) => a + b, 0));
const colSums = (p: Float32Array) => Array.from({ length: 28 }, (_, c) => rowSums(p).reduce((a, _b, r) => a + p[r * 28 + c]!, 0));

function centreOfMass(p: Float32Array): [number, number] {
  let total = 0;
  let cy = 0;
  let cx = 0;
  for (let i = 0; i < 784; i++) {
    total += p[i]!;
    cy += Math.floor(i / 28) * p[i]!;
    cx += (i % 28) * p[i]!;
  }
  return [cy / total, cx / total];
}

describe('preprocessImage', () => {
  const white: Rgba = [255, 255, 255, 255];
  const dark: Rgba = [30, 30, 30, 255];
  // 200×120 white page, dark 60×30 rectangle off-centre (bottom left).
  const rgba = canvas(200, 120, white, { x: 20, y: 70, w: 60, h: 30, fill: dark });

  it('inverts a light background, crops to the object and centres it, longest side filling the frame', () => {
    const out = preprocessImage(png(200, 120, rgba), 'shirt.png');
    expect(out).toMatchObject({ width: 28, height: 28, format: 'png', inverted: true, empty: false, source: { width: 200, height: 120 } });
    expect(out.box).toEqual({ x: 20, y: 70, width: 60, height: 30 });
    expect(out.pixels).toBeInstanceOf(Float32Array);
    expect(out.pixels.length).toBe(784);
    for (const v of out.pixels) expect(v >= 0 && v <= 1).toBe(true);
    // 60×30 → 28×14: every column is object, rows 7..20 are object, the rest black.
    const rows = rowSums(out.pixels);
    rows.forEach((sum, r) => expect(sum).toBeCloseTo(r >= 7 && r < 21 ? 28 : 0, 3));
    for (const sum of colSums(out.pixels)) expect(sum).toBeCloseTo(14, 3);
    const [cy, cx] = centreOfMass(out.pixels);
    expect(cy).toBeCloseTo(13.5, 3);
    expect(cx).toBeCloseTo(13.5, 3);
  });

  it('keeps a dark background, reads colour, and honours a margin', () => {
    // Red object on a dark blue page: luminance decides, no inversion.
    const coloured = canvas(90, 90, [0, 0, 60, 255], { x: 30, y: 10, w: 20, h: 40, fill: [250, 40, 40, 255] });
    const out = preprocessImage(png(90, 90, coloured), 'red.png', { margin: 2 });
    expect(out.inverted).toBe(false);
    const rows = rowSums(out.pixels);
    // 20×40 with margin 2 → 12×24 centred: rows 2..25 lit, each holding 12 pixels of 1.0.
    rows.forEach((sum, r) => expect(sum).toBeCloseTo(r >= 2 && r < 26 ? 12 : 0, 1));
    expect(Math.max(...out.pixels)).toBeCloseTo(1, 5);
  });

  it('enlarges small images and treats transparency as background', () => {
    const tiny = canvas(10, 10, [0, 0, 0, 0], { x: 3, y: 3, w: 4, h: 2, fill: [20, 20, 20, 255] });
    const out = preprocessImage(png(10, 10, tiny), 'cutout.png');
    // A dark object on a transparent page is composited on white, then negated.
    expect(out.inverted).toBe(true);
    expect(out.box).toEqual({ x: 3, y: 3, width: 4, height: 2 });
    // 4×2 → 28×14, edges exact: rows 7..20 fully lit.
    rowSums(out.pixels).forEach((sum, r) => expect(sum).toBeCloseTo(r >= 7 && r < 21 ? 28 : 0, 3));
    expect(centreOfMass(out.pixels)[0]).toBeCloseTo(13.5, 3);
  });

  it('gives an empty, all-black image for a blank page', () => {
    const out = preprocessImage(png(40, 30, canvas(40, 30, white)), 'blank.png');
    expect(out.empty).toBe(true);
    expect(Math.max(...out.pixels)).toBe(0);
  });

  it('round-trips through JPEG close to the lossless result', () => {
    const jpg = jpeg.encode({ width: 200, height: 120, data: rgba }, 90).data;
    const fromJpeg = preprocessImage(jpg, 'shirt.jpg');
    const fromPng = preprocessImage(png(200, 120, rgba), 'shirt.png');
    expect(fromJpeg.format).toBe('jpeg');
    expect(fromJpeg.inverted).toBe(true);
    expect(Math.abs(fromJpeg.box.x - 20)).toBeLessThanOrEqual(1);
    expect(Math.abs(fromJpeg.box.width - 60)).toBeLessThanOrEqual(2);
    let worst = 0;
    for (let i = 0; i < 784; i++) worst = Math.max(worst, Math.abs(fromJpeg.pixels[i]! - fromPng.pixels[i]!));
    expect(worst).toBeLessThan(0.15);
  });

  it('applies EXIF orientation from a JPEG (rotate 90° clockwise)', () => {
    const wide = canvas(100, 50, white, { x: 10, y: 10, w: 60, h: 20, fill: dark });
    const plain = jpeg.encode({ width: 100, height: 50, data: wide }, 90).data;
    // APP1 "Exif\0\0" + big-endian TIFF with one IFD entry: Orientation (0x0112) SHORT = 6.
    const tiff = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
    const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
    const rotated = Buffer.concat([plain.subarray(0, 2), app1, plain.subarray(2)]);
    expect(jpegOrientation(rotated)).toBe(6);
    expect(jpegOrientation(plain)).toBe(1);
    const out = preprocessImage(rotated, 'phone.jpg');
    expect(out.source).toEqual({ width: 50, height: 100 });
    // The 60-wide bar now stands upright: it fills all rows and about 28·20/60 ≈ 9 columns.
    const rows = rowSums(out.pixels);
    for (const sum of rows) expect(sum).toBeGreaterThan(7);
    expect(Math.abs(out.box.height - 60)).toBeLessThanOrEqual(2);
  });

  it('names the file in a typed error for corrupt or unsupported input', () => {
    const cases: [Buffer, string, string][] = [
      [Buffer.concat([png(4, 4, canvas(4, 4, white)).subarray(0, 40), Buffer.from('garbage')]), 'broken.png', 'corrupt'],
      [Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(20, 7)]), 'broken.jpg', 'corrupt'],
      [Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), 'anim.gif', 'unsupported'],
      [Buffer.alloc(0), 'empty.png', 'unsupported'],
    ];
    for (const [bytes, name, problem] of cases) {
      let error: unknown;
      try {
        preprocessImage(bytes, name);
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(ImageFileError);
      expect((error as ImageFileError).file).toBe(name);
      expect((error as ImageFileError).problem).toBe(problem);
      expect((error as Error).message.startsWith(`${name}: `)).toBe(true);
    }
  });
});

describe('preprocessImage on re-rendered Fashion-MNIST images', () => {
  it('recovers the dataset image from a dark-on-white JPEG "photo" of it', () => {
    const raw = gunzipSync(readFileSync(join(packageRoot(), 'data/fashion-mnist/t10k-images-idx3-ubyte.gz'))).subarray(16);
    const scale = 4;
    const [w, h] = [28 * scale + 80, 28 * scale + 40];
    const total = { plain: 0, sharpened: 0 };
    const count = 12;
    for (let k = 0; k < count; k++) {
      const image = raw.subarray(k * 784, (k + 1) * 784);
      // Enlarged, negated (dark garment on white paper) and placed off-centre on a wider page.
      const rgba = Buffer.alloc(w * h * 4, 255);
      for (let y = 0; y < 28 * scale; y++) {
        for (let x = 0; x < 28 * scale; x++) {
          const v = 255 - image[Math.floor(y / scale) * 28 + Math.floor(x / scale)]!;
          rgba.set([v, v, v, 255], ((y + 20) * w + x + 30) * 4);
        }
      }
      const bytes = jpeg.encode({ width: w, height: h, data: rgba }, 85).data;
      for (const mode of ['plain', 'sharpened'] as const) {
        const out = preprocessImage(bytes, `fmnist-${k}.jpg`, { sharpen: mode === 'sharpened' });
        let diff = 0;
        for (let i = 0; i < 784; i++) diff += Math.abs(out.pixels[i]! - image[i]! / 255);
        total[mode] += diff / 784;
      }
    }
    // Mean absolute pixel error (a few dataset objects span 27 px, not 28, which bounds it from below).
    // These images were sharpened once already, so the dataset's sharpening step adds a little error.
    expect(total.plain / count).toBeLessThan(0.02);
    expect(total.sharpened / count).toBeLessThan(0.05);
  });
});

describe('preprocessImage on object-free photos', () => {
  it('finds no object in a noisy JPEG of a gradient wall, a vignetted page or a dark frame', () => {
    const w = 240;
    const h = 160;
    let state = 1;
    const noise = () => ((state = (state * 16807) % 2147483647) / 2147483647 - 0.5) * 16;
    const scenes: Record<string, (x: number, y: number) => number[]> = {
      gradient: (x, y) => [120 + (60 * x) / w, 110 + (50 * y) / h, 100],
      vignette: (x, y) => {
        const r2 = (x / w - 0.5) ** 2 + (y / h - 0.5) ** 2;
        return [230 - 120 * r2, 230 - 120 * r2, 225 - 120 * r2];
      },
      dark: () => [20, 20, 25],
    };
    for (const [name, colour] of Object.entries(scenes)) {
      const rgba = Buffer.alloc(w * h * 4, 255);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) colour(x, y).forEach((c, k) => (rgba[(y * w + x) * 4 + k] = Math.max(0, Math.min(255, Math.round(c + noise())))));
      const out = preprocessImage(jpeg.encode({ width: w, height: h, data: rgba }, 70).data, `${name}.jpg`);
      expect(out.empty, name).toBe(true);
      expect(out.confidence, name).toBeLessThan(0.15);
    }
  });
});
