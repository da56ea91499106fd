/**
 * Turns a user's PNG/JPEG (any size, colour, background) into a Fashion-MNIST-like 28×28 image:
 * light object on a black background, cropped to the object, centred, longest side filling the frame.
 *
 * Measured on the Fashion-MNIST test set: every object's bounding box spans the full 28 px on its
 * longer side (median over all classes, threshold 0 or 20), centred on the box, and the brightest
 * pixel is 255. So the default margin is 0 and contrast is stretched to [0,1].
 * Decoding is pure JS (pngjs, jpeg-js): no native downloads.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { StageInputError } from '../types.js';

export const SIZE = 28;
/** Decoded images above this are refused: 50 MP of RGBA is already 200 MB. */
const MAX_MEGAPIXELS = 50;
/**
 * Stretched value above which a pixel belongs to the object: above JPEG noise, and low enough to
 * keep the faint fringes the dataset's own boxes include (0.1 matched re-rendered test images best).
 */
const OBJECT_THRESHOLD = 0.1;
/** Object-pixel quantile mapped to 1: ignores a few hot pixels, otherwise the maximum. */
const BRIGHT_QUANTILE = 0.999;

export type ImageFileProblem = 'unsupported' | 'corrupt' | 'too-large';

/** An input image that cannot be used; names the file so a batch of uploads can be reported. */
export class ImageFileError extends StageInputError {
  constructor(
    readonly file: string,
    readonly problem: ImageFileProblem,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

export interface PreprocessOptions {
  /** Empty pixels kept on each side of the object's longer side, out of 28 (dataset: 0). */
  readonly margin?: number;
}

export interface PreprocessedImage {
  /** Row-major 28×28 values in [0,1], object light on black like the dataset. */
  readonly pixels: Float32Array;
  readonly width: number;
  readonly height: number;
  readonly format: 'png' | 'jpeg';
  /** Size of the decoded image, after EXIF rotation. */
  readonly source: { readonly width: number; readonly height: number };
  /** True when the background was light and the image was negated. */
  readonly inverted: boolean;
  /** Object bounding box in source pixels; the whole image when no object stood out. */
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  /** True when the image is (nearly) uniform, so there was nothing to crop to. */
  readonly empty: boolean;
}

interface Gray {
  data: Float32Array; // [0,1]
  width: number;
  height: number;
}

function checkSize(file: string, width: number, height: number): void {
  if (width < 1 || height < 1) throw new ImageFileError(file, 'corrupt', `image has no pixels (${width}×${height})`);
  if (width * height > MAX_MEGAPIXELS * 1e6) {
    throw new ImageFileError(file, 'too-large', `image is ${width}×${height}; the limit is ${MAX_MEGAPIXELS} megapixels`);
  }
}

function decodeRgba(bytes: Buffer, file: string): { rgba: Uint8Array; width: number; height: number; format: 'png' | 'jpeg' } {
  const isPng = bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (isPng) {
    // IHDR sits at a fixed offset: check the size before pngjs allocates the pixels.
    if (bytes.length >= 24) checkSize(file, bytes.readUInt32BE(16), bytes.readUInt32BE(20));
    try {
      const png = PNG.sync.read(bytes); // any bit depth/palette → 8-bit RGBA
      return { rgba: png.data, width: png.width, height: png.height, format: 'png' };
    } catch (error) {
      throw new ImageFileError(file, 'corrupt', `cannot decode PNG (${(error as Error).message})`);
    }
  }
  if (isJpeg) {
    let image: { width: number; height: number; data: Uint8Array };
    try {
      image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 1024 });
    } catch (error) {
      const message = (error as Error).message;
      const tooLarge = /limit exceeded/.test(message);
      throw new ImageFileError(file, tooLarge ? 'too-large' : 'corrupt', `cannot decode JPEG (${message})`);
    }
    checkSize(file, image.width, image.height);
    return { rgba: image.data, width: image.width, height: image.height, format: 'jpeg' };
  }
  throw new ImageFileError(file, 'unsupported', 'unsupported image format: expected a PNG or JPEG file');
}

/** EXIF orientation (1–8) from a JPEG's APP1 segment; 1 when absent. Phone photos rely on it. */
export function jpegOrientation(bytes: Buffer): number {
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1]!;
    if (marker === 0xda || marker === 0xd9) break; // image data starts: no more metadata
    const length = bytes.readUInt16BE(at + 2);
    const start = at + 4;
    if (marker === 0xe1 && bytes.toString('latin1', start, start + 6) === 'Exif\0\0') {
      const tiff = start + 6;
      if (tiff + 8 > bytes.length) return 1;
      const little = bytes.toString('latin1', tiff, tiff + 2) === 'II';
      const u16 = (o: number) => (little ? bytes.readUInt16LE(o) : bytes.readUInt16BE(o));
      const u32 = (o: number) => (little ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
      const ifd = tiff + u32(tiff + 4);
      if (ifd + 2 > bytes.length) return 1;
      const entries = u16(ifd);
      for (let i = 0; i < entries; i++) {
        const entry = ifd + 2 + i * 12;
        if (entry + 12 > bytes.length) return 1;
        if (u16(entry) === 0x0112) {
          const value = u16(entry + 8);
          return value >= 1 && value <= 8 ? value : 1;
        }
      }
      return 1;
    }
    at = start + length - 2;
  }
  return 1;
}

/**
 * Luminance (Rec. 601) in [0,1]. Transparent pixels become background: black behind a light
 * object and white behind a dark one, so a cut-out product keeps its contrast either way.
 */
function toGray(rgba: Uint8Array, width: number, height: number): Gray {
  const n = width * height;
  const lum = new Float32Array(n);
  let alphaSum = 0;
  let weighted = 0;
  let transparent = false;
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3]! / 255;
    lum[i] = (0.299 * rgba[i * 4]! + 0.587 * rgba[i * 4 + 1]! + 0.114 * rgba[i * 4 + 2]!) / 255;
    if (a < 1) transparent = true;
    alphaSum += a;
    weighted += a * lum[i]!;
  }
  if (transparent) {
    const backdrop = alphaSum > 0 && weighted / alphaSum > 0.5 ? 0 : 1;
    for (let i = 0; i < n; i++) {
      const a = rgba[i * 4 + 3]! / 255;
      lum[i] = a * lum[i]! + (1 - a) * backdrop;
    }
  }
  return { data: lum, width, height };
}

/** Source pixel of output (x, y) for each EXIF orientation (2–4 flips, 5–8 transposed rotations). */
function sourceIndex(orientation: number, x: number, y: number, w: number, h: number): number {
  switch (orientation) {
    case 2: return y * w + (w - 1 - x);
    case 3: return (h - 1 - y) * w + (w - 1 - x);
    case 4: return (h - 1 - y) * w + x;
    case 5: return x * w + y;
    case 6: return (h - 1 - x) * w + y; // rotate 90° clockwise
    case 7: return (h - 1 - x) * w + (w - 1 - y);
    case 8: return x * w + (w - 1 - y); // rotate 90° counter-clockwise
    default: return y * w + x;
  }
}

/** Applies EXIF orientation so the object stands as the photographer saw it. */
function orient(img: Gray, orientation: number): Gray {
  if (orientation === 1) return img;
  const { width: w, height: h, data } = img;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Float32Array(w * h);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      out[y * ow + x] = data[sourceIndex(orientation, x, y, w, h)]!;
    }
  }
  return { data: out, width: ow, height: oh };
}

/**
 * Value at quantile q of the `values` at or above `floor`, via 256 bins (exact to the bin: returns
 * the bin's largest value). Plain loops: this runs over every pixel of 12-MP photos.
 */
function quantile(values: Float32Array, q: number, floor = -Infinity): number {
  const histogram = new Float64Array(256);
  const binMax = new Float64Array(256);
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < floor) continue;
    const b = Math.round(Math.min(1, Math.max(0, v)) * 255);
    histogram[b]! += 1;
    if (v > binMax[b]!) binMax[b] = v;
    count++;
  }
  let seen = 0;
  for (let b = 0; b < 256; b++) {
    seen += histogram[b]!;
    if (seen > q * (count - 1)) return binMax[b]!;
  }
  return 1;
}

/** The outer ring (2% of the shorter side, at least 1 px): where the background shows. */
function border(img: Gray): Float32Array {
  const { width: w, height: h, data } = img;
  const ring = Math.max(1, Math.round(0.02 * Math.min(w, h)));
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    if (y < ring || y >= h - ring) {
      for (let x = 0; x < w; x++) out.push(data[y * w + x]!);
    } else {
      for (let x = 0; x < Math.min(ring, w); x++) out.push(data[y * w + x]!, data[y * w + w - 1 - x]!);
    }
  }
  return Float32Array.from(out);
}

/** Bounding box of pixels above the threshold; rows/columns need a few hits so specks don't count. */
function objectBox(img: Gray): PreprocessedImage['box'] | undefined {
  const { width: w, height: h, data } = img;
  const rows = new Uint32Array(h);
  const cols = new Uint32Array(w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[y * w + x]! > OBJECT_THRESHOLD) {
        rows[y]! += 1;
        cols[x]! += 1;
      }
    }
  }
  const minHits = Math.max(1, Math.floor(Math.min(w, h) / 200));
  const first = (a: Uint32Array) => a.findIndex((c) => c >= minHits);
  const last = (a: Uint32Array) => a.length - 1 - [...a].reverse().findIndex((c) => c >= minHits);
  const top = first(rows);
  const left = first(cols);
  if (top < 0 || left < 0) return undefined;
  return { x: left, y: top, width: last(cols) - left + 1, height: last(rows) - top + 1 };
}

/**
 * Resamples the square frame [fx, fx+side)×[fy, fy+side) of `img` to 28×28 by area averaging:
 * each output pixel is the exact mean of the source area it covers. Shrinking is alias-free;
 * enlarging replicates pixels with blended edges, so the object's extent stays exact (bilinear
 * would smear it half a pixel outwards). Outside the image counts as background (0), which pads
 * the crop to a square.
 */
function resampleFrame(img: Gray, fx: number, fy: number, side: number): Float32Array {
  const { width: w, height: h, data } = img;
  const step = side / SIZE;
  const out = new Float32Array(SIZE * SIZE);
  for (let oy = 0; oy < SIZE; oy++) {
    const y0 = fy + oy * step;
    const y1 = y0 + step;
    for (let ox = 0; ox < SIZE; ox++) {
      const x0 = fx + ox * step;
      const x1 = x0 + step;
      let v = 0;
      for (let y = Math.max(0, Math.floor(y0)); y < Math.min(h, y1); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.max(0, Math.floor(x0)); x < Math.min(w, x1); x++) {
          v += wy * (Math.min(x + 1, x1) - Math.max(x, x0)) * data[y * w + x]!;
        }
      }
      out[oy * SIZE + ox] = Math.min(1, Math.max(0, v / (step * step)));
    }
  }
  return out;
}

export function preprocessImage(bytes: Buffer, fileName: string, options: PreprocessOptions = {}): PreprocessedImage {
  const decoded = decodeRgba(bytes, fileName);
  let img = toGray(decoded.rgba, decoded.width, decoded.height);
  if (decoded.format === 'jpeg') img = orient(img, jpegOrientation(bytes));

  // Dataset objects are light on black: negate when the border (the background) is mostly light.
  // The median keeps objects that touch the edge from flipping the decision.
  const inverted = quantile(border(img), 0.5) > 0.5;
  if (inverted) for (let i = 0; i < img.data.length; i++) img.data[i] = 1 - img.data[i]!;

  // Stretch background → 0 and the object's bright end → 1, as in the dataset (grey paper, dim photos).
  const low = quantile(border(img), 0.5);
  let max = 0;
  for (const v of img.data) if (v > max) max = v;
  const empty = max - low < 0.05;
  const high = empty ? 1 : quantile(img.data, BRIGHT_QUANTILE, low + 0.2 * (max - low));
  const range = Math.max(high - low, 1e-6);
  for (let i = 0; i < img.data.length; i++) img.data[i] = empty ? 0 : Math.min(1, Math.max(0, (img.data[i]! - low) / range));

  const box = (empty ? undefined : objectBox(img)) ?? { x: 0, y: 0, width: img.width, height: img.height };
  const margin = Math.min(Math.max(0, options.margin ?? 0), SIZE / 2 - 1);
  // Square frame around the box; the box's longer side spans 28 − 2·margin output pixels.
  const side = (Math.max(box.width, box.height) * SIZE) / (SIZE - 2 * margin);
  // Centred, but starting on a whole output pixel (odd leftovers go left/top, as in the dataset,
  // whose mean box centre is 13.75 rather than 13.5): a half-pixel offset would blur every edge.
  const step = side / SIZE;
  const start = (extent: number) => Math.ceil((SIZE - extent / step) / 2 - 1e-6) * step;
  const fx = box.x - start(box.width);
  const fy = box.y - start(box.height);
  return {
    pixels: resampleFrame(img, fx, fy, side),
    width: SIZE,
    height: SIZE,
    format: decoded.format,
    source: { width: img.width, height: img.height },
    inverted,
    box,
    empty,
  };
}
