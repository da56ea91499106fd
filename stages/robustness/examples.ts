/**
 * The robustness stage's photo examples (format in ./format.ts): for the first few test images, the
 * original, a thumbnail of its photo-like rendering, the 28×28 image preprocessing made of it, and
 * the model's top 3. PNG encoding by pngjs is deterministic, so the same seed gives the same bytes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { decodeImage } from '../predict/decode.js';
import type { PreprocessedImage } from '../predict/preprocess.js';
import type { ExamplesFile, PhotoExample } from './format.js';
import type { Rendering } from './render.js';

/** Longest side of the stored rendering: enough to see the photo, small enough to inline in the report. */
const THUMB = 112;

function png(rgba: Uint8Array, width: number, height: number, colorType: 0 | 2): Buffer {
  const image = new PNG({ width, height });
  image.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(image, { colorType, deflateLevel: 9 });
}

/** 28×28 values (0–255 or [0,1] when `unit`) as a grayscale PNG. */
function grayPng(values: ArrayLike<number>, unit: boolean): Buffer {
  const rgba = new Uint8Array(784 * 4);
  for (let i = 0; i < 784; i++) {
    const v = Math.max(0, Math.min(255, Math.round(unit ? values[i]! * 255 : values[i]!)));
    rgba.set([v, v, v, 255], i * 4);
  }
  return png(rgba, 28, 28, 0);
}

/** Box-filter downscale so the longest side is at most THUMB (area averaging keeps noise and JPEG blocks visible but small). */
export function thumbnail(rendering: Rendering): { bytes: Buffer; width: number; height: number } {
  const { rgba, width, height } = decodeImage(rendering.bytes, 'rendering');
  const scale = Math.min(1, THUMB / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * height) / h));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * width) / w));
      const sum = [0, 0, 0];
      for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) for (let c = 0; c < 3; c++) sum[c]! += rgba[(yy * width + xx) * 4 + c]!;
      const n = (y1 - y0) * (x1 - x0);
      out.set([Math.round(sum[0]! / n), Math.round(sum[1]! / n), Math.round(sum[2]! / n), 255], (y * w + x) * 4);
    }
  }
  return { bytes: png(out, w, h, 2), width: w, height: h };
}

export interface ExampleInput {
  readonly index: number;
  readonly label: number;
  /** The test image, 784 values 0–255. */
  readonly original: Uint8Array;
  readonly rendering: Rendering;
  readonly seen: PreprocessedImage;
  /** The model's probabilities for the preprocessed image. */
  readonly proba: ArrayLike<number>;
}

/** Writes examples.json and examples/*.png into `outDir`. */
export async function writeExamples(outDir: string, model: string, seed: number, inputs: readonly ExampleInput[]): Promise<void> {
  await mkdir(join(outDir, 'examples'), { recursive: true });
  const examples: PhotoExample[] = [];
  for (const [k, e] of inputs.entries()) {
    const files = { original: `examples/${k}-original.png`, photo: `examples/${k}-photo.png`, seen: `examples/${k}-seen.png` };
    await writeFile(join(outDir, files.original), grayPng(e.original, false));
    await writeFile(join(outDir, files.photo), thumbnail(e.rendering).bytes);
    await writeFile(join(outDir, files.seen), grayPng(e.seen.pixels, true));
    const top = Array.from(e.proba, (p, c) => ({ class: c, probability: Number(Math.min(1, Math.max(0, p)).toFixed(4)) }))
      .sort((a, b) => b.probability - a.probability || a.class - b.class)
      .slice(0, 3);
    examples.push({
      index: e.index,
      label: e.label,
      background: e.rendering.background,
      format: e.rendering.format,
      width: e.rendering.width,
      height: e.rendering.height,
      confidence: Number(e.seen.confidence.toFixed(4)),
      top,
      files,
    });
  }
  const file: ExamplesFile = { model, seed, examples };
  await writeFile(join(outDir, 'examples.json'), `${JSON.stringify(file, null, 1)}\n`);
}
