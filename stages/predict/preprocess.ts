/**
 * Turns a user's PNG/JPEG into the 28×28 image a Fashion-MNIST model expects.
 *
 * Two paths:
 * - An image already in the dataset's form (28×28, grayscale, dark border) reaches the model
 *   unchanged (only /255), so the dataset's own images written as PNG give `evaluate`'s answers.
 *   A 28×28 grayscale image on a light border is only negated.
 * - Anything else follows how Fashion-MNIST was made from product photos (its README): trim the
 *   background, resize the longest edge to 28, sharpen (Gaussian, radius and σ 1.0), extend the
 *   shorter edge to 28 centred, negate, 8-bit gray. Where the dataset trimmed by the colour of the
 *   corner pixels (within 5% of full intensity, in RGB), this separates object from background by
 *   RGB distance from a background model fitted to the whole border (a plane per channel, refitted
 *   without outliers), so gradients, JPEG noise and objects touching an edge do not break it, and
 *   a red shirt on a grey wall of equal luminance is still found.
 */
import { decodeImage, type DecodedImage } from './decode.js';

export { ImageFileError, jpegOrientation, type ImageFileProblem } from './decode.js';

export const SIZE = 28;
/** The dataset's trim tolerance: 5% of the maximum intensity, as an RGB distance. */
const TRIM_TOLERANCE = 0.05;
/** Object-pixel quantile mapped to full intensity (the dataset's brightest pixel is 255). */
const BRIGHT_QUANTILE = 0.999;
/**
 * Weight of pure colour difference in the intensity. A gray object on a gray/white page has colour
 * distance equal to its luminance difference, so this never changes the dataset's own conversion;
 * it only keeps equal-luminance colour contrast (red on grey) from vanishing.
 */
const COLOUR_WEIGHT = 0.6;
/** Strength of the unsharp mask (σ = 1.0, 3×3): the dataset's sharpening step. */
const SHARPEN_AMOUNT = 1;

export interface PreprocessOptions {
  /** Empty pixels kept on each side of the object's longer side, out of 28 (dataset: 0). */
  readonly margin?: number;
  /** The dataset's sharpening step after shrinking (default true); off for images that were sharpened already. */
  readonly sharpen?: boolean;
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface PreprocessedImage {
  /** Row-major 28×28 values in [0,1], object light on black like the dataset. */
  readonly pixels: Float32Array;
  readonly width: number;
  readonly height: number;
  readonly format: 'png' | 'jpeg';
  /** Size of the decoded image, after EXIF rotation. */
  readonly source: { readonly width: number; readonly height: number };
  /** `dataset-form`: 28×28 gray, passed through; `photo`: trimmed, resized, sharpened, centred. */
  readonly path: 'dataset-form' | 'photo';
  /** True when the background was light and intensities were negated. */
  readonly inverted: boolean;
  /** Object bounding box in source pixels; the whole image when no object stood out. */
  readonly box: Box;
  /** Mean background colour (0–255 RGB) of the border model. */
  readonly background: readonly [number, number, number];
  /** 0–1: how clearly an object stands out from the background (0 for a uniform image). */
  readonly confidence: number;
  /** True when no object stood out (a nearly uniform image): predictions would be meaningless. */
  readonly empty: boolean;
}

/** Below this confidence the image counts as having no object. */
export const MIN_CONFIDENCE = 0.15;

const lumOf = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b;

/** Border ring width: 2% of the shorter side, at least 1 px. */
const ringOf = (w: number, h: number): number => Math.max(1, Math.round(0.02 * Math.min(w, h)));

function isDatasetForm(img: DecodedImage): boolean {
  if (img.width !== SIZE || img.height !== SIZE) return false;
  const { rgba } = img;
  for (let i = 0; i < SIZE * SIZE; i++) {
    const o = i * 4;
    if (rgba[o + 3] !== 255 || rgba[o] !== rgba[o + 1] || rgba[o] !== rgba[o + 2]) return false;
  }
  return true;
}

/** Already 28×28 gray: unchanged on a dark border, negated on a light one. No crop, no resampling. */
function passThrough(img: DecodedImage): PreprocessedImage {
  const border: number[] = [];
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) if (y === 0 || x === 0 || y === SIZE - 1 || x === SIZE - 1) border.push(img.rgba[(y * SIZE + x) * 4]!);
  border.sort((a, b) => a - b);
  const median = border[border.length >> 1]!;
  const inverted = median > 127;
  const pixels = new Float32Array(SIZE * SIZE);
  let min = 255;
  let max = 0;
  for (let i = 0; i < pixels.length; i++) {
    const v = img.rgba[i * 4]!;
    pixels[i] = (inverted ? 255 - v : v) / 255;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const confidence = Math.min(1, (max - min) / 255 / (4 * TRIM_TOLERANCE));
  return {
    pixels, width: SIZE, height: SIZE, format: 'png', source: { width: SIZE, height: SIZE }, path: 'dataset-form', inverted,
    box: { x: 0, y: 0, width: SIZE, height: SIZE }, background: [median, median, median], confidence, empty: confidence < MIN_CONFIDENCE,
  };
}

/** Opaque RGB in [0,1]. Transparent pixels become the backdrop that contrasts with the opaque content. */
function toRgb(img: DecodedImage): Float32Array {
  const n = img.width * img.height;
  const rgb = new Float32Array(n * 3);
  let alphaSum = 0;
  let weighted = 0;
  let transparent = false;
  for (let i = 0; i < n; i++) {
    const a = img.rgba[i * 4 + 3]! / 255;
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = img.rgba[i * 4 + c]! / 255;
    if (a < 1) transparent = true;
    alphaSum += a;
    weighted += a * lumOf(rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!);
  }
  if (transparent) {
    // A cut-out product: white behind a dark object (the dataset's photos were on white), black behind a light one.
    const backdrop = alphaSum > 0 && weighted / alphaSum > 0.5 ? 0 : 1;
    for (let i = 0; i < n; i++) {
      const a = img.rgba[i * 4 + 3]! / 255;
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = a * rgb[i * 3 + c]! + (1 - a) * backdrop;
    }
  }
  return rgb;
}

/**
 * Background colour per channel as a quadratic surface in u, v ∈ [-1, 1] (terms 1, u, v, u², v², uv):
 * a plane covers a gradient, the squares a vignette or a sweep of studio paper.
 */
interface BackgroundModel {
  readonly coef: Float64Array; // [channel * TERMS + term]
  /** Typical RGB distance of border background pixels from the model (noise level). */
  readonly noise: number;
}

const TERMS = 6;
const terms = (u: number, v: number): number[] => [1, u, v, u * u, v * v, u * v];

function bgAt(model: Pick<BackgroundModel, 'coef'>, u: number, v: number, c: number): number {
  const k = c * TERMS;
  const q = model.coef;
  return q[k]! + q[k + 1]! * u + q[k + 2]! * v + q[k + 3]! * u * u + q[k + 4]! * v * v + q[k + 5]! * u * v;
}

/** Solves the small normal equations m·x = r (Gaussian elimination with partial pivoting). */
function solve(m: number[], r: number[]): number[] {
  const n = r.length;
  const a = m.map((x) => x);
  const b = r.map((x) => x);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let row = col + 1; row < n; row++) if (Math.abs(a[row * n + col]!) > Math.abs(a[pivot * n + col]!)) pivot = row;
    if (Math.abs(a[pivot * n + col]!) < 1e-12) continue;
    for (let k = 0; k < n; k++) [a[col * n + k], a[pivot * n + k]] = [a[pivot * n + k]!, a[col * n + k]!];
    [b[col], b[pivot]] = [b[pivot]!, b[col]!];
    for (let row = 0; row < n; row++) {
      if (row === col) continue;
      const f = a[row * n + col]! / a[col * n + col]!;
      if (f === 0) continue;
      for (let k = col; k < n; k++) a[row * n + k]! -= f * a[col * n + k]!;
      b[row]! -= f * b[col]!;
    }
  }
  return b.map((value, i) => (Math.abs(a[i * n + i]!) < 1e-12 ? 0 : value / a[i * n + i]!));
}

/**
 * Fits the background to the border ring, then refits twice on the pixels close to the fit, so an
 * object touching an edge (up to about half the border) does not pull the model towards itself.
 */
function fitBackground(rgb: Float32Array, w: number, h: number): BackgroundModel {
  const ring = ringOf(w, h);
  const idx: number[] = [];
  const step = Math.max(1, Math.floor((2 * (w + h) * ring) / 20000)); // ≤ ~20k samples on big photos
  let count = 0;
  for (let y = 0; y < h; y++) {
    const edgeRow = y < ring || y >= h - ring;
    for (let x = 0; x < w; x++) {
      if (!edgeRow && x >= ring && x < w - ring) {
        x = w - ring - 1;
        continue;
      }
      if (count++ % step === 0) idx.push(y * w + x);
    }
  }
  const uOf = (i: number) => (w > 1 ? (2 * (i % w)) / (w - 1) - 1 : 0);
  const vOf = (i: number) => (h > 1 ? (2 * Math.floor(i / w)) / (h - 1) - 1 : 0);
  let weights = idx.map(() => 1);
  let coef = new Float64Array(3 * TERMS);
  let residuals: number[] = [];
  for (let iter = 0; iter < 3; iter++) {
    for (let c = 0; c < 3; c++) {
      const m = new Array<number>(TERMS * TERMS).fill(0);
      const r = new Array<number>(TERMS).fill(0);
      let used = 0;
      idx.forEach((i, k) => {
        const wt = weights[k]!;
        if (wt === 0) return;
        used += wt;
        const f = terms(uOf(i), vOf(i));
        for (let a = 0; a < TERMS; a++) {
          r[a]! += wt * f[a]! * rgb[i * 3 + c]!;
          for (let b = 0; b < TERMS; b++) m[a * TERMS + b]! += wt * f[a]! * f[b]!;
        }
      });
      // A little ridge on the curvature terms: when an object hides much of one edge, the surface
      // stays close to a plane instead of bending through the missing part.
      for (let a = 3; a < TERMS; a++) m[a * TERMS + a]! += 0.01 * used;
      solve(m, r).forEach((value, a) => (coef[c * TERMS + a] = value));
    }
    const model = { coef, noise: 0 };
    residuals = idx.map((i) => distance(rgb, i, model, uOf(i), vOf(i)));
    // Keep the closer half-and-more: pixels within 3× the median residual (at least the trim tolerance).
    const sorted = [...residuals].sort((a, b) => a - b);
    const cut = Math.max(TRIM_TOLERANCE, 3 * sorted[Math.floor(sorted.length / 2)]!);
    weights = residuals.map((d) => (d <= cut ? 1 : 0));
    coef = Float64Array.from(coef);
  }
  const inliers = residuals.filter((_, k) => weights[k] === 1).sort((a, b) => a - b);
  const noise = inliers.length ? inliers[Math.floor(0.95 * (inliers.length - 1))]! : 0;
  return { coef, noise };
}

/** 95th percentile of border residuals from `model` in `data`, ignoring object pixels on the border. */
function borderNoise(data: Float32Array, w: number, h: number, model: Pick<BackgroundModel, 'coef'>): number {
  const ring = ringOf(w, h);
  const residuals: number[] = [];
  const step = Math.max(1, Math.floor((2 * (w + h) * ring) / 20000));
  let count = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (y >= ring && y < h - ring && x >= ring && x < w - ring) x = w - ring;
      if (x >= w || count++ % step !== 0) continue;
      residuals.push(distance(data, y * w + x, model, w > 1 ? (2 * x) / (w - 1) - 1 : 0, h > 1 ? (2 * y) / (h - 1) - 1 : 0));
    }
  }
  residuals.sort((a, b) => a - b);
  const cut = Math.max(TRIM_TOLERANCE, 3 * residuals[Math.floor(residuals.length / 2)]!);
  const inliers = residuals.filter((d) => d <= cut);
  return inliers.length ? inliers[Math.floor(0.95 * (inliers.length - 1))]! : 0;
}

/** RGB distance of pixel i from the background model, normalised so black↔white is 1. */
function distance(rgb: Float32Array, i: number, model: Pick<BackgroundModel, 'coef'>, u: number, v: number): number {
  let s = 0;
  for (let c = 0; c < 3; c++) {
    const d = rgb[i * 3 + c]! - bgAt(model, u, v, c);
    s += d * d;
  }
  return Math.sqrt(s / 3);
}

/** Value at quantile q of `values` (256 bins over [0,1]; returns the bin's largest value). */
function quantile(values: Float32Array, q: number, mask?: Uint8Array): number {
  const histogram = new Float64Array(256);
  const binMax = new Float64Array(256);
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (mask && !mask[i]) continue;
    const v = values[i]!;
    const b = Math.round(Math.min(1, Math.max(0, v)) * 255);
    histogram[b]! += 1;
    if (v > binMax[b]!) binMax[b] = v;
    count++;
  }
  if (count === 0) return 0;
  let seen = 0;
  for (let b = 0; b < 256; b++) {
    seen += histogram[b]!;
    if (seen > q * (count - 1)) return binMax[b]!;
  }
  return 1;
}

/** Bounding box of mask pixels; rows/columns need a few hits so JPEG specks and dust don't count. */
function maskBox(mask: Uint8Array, w: number, h: number): Box | undefined {
  const rows = new Uint32Array(h);
  const cols = new Uint32Array(w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x]) {
        rows[y]! += 1;
        cols[x]! += 1;
      }
    }
  }
  const minHits = Math.max(1, Math.floor(Math.min(w, h) / 100));
  const first = (a: Uint32Array) => a.findIndex((c) => c >= minHits);
  const last = (a: Uint32Array) => a.length - 1 - [...a].reverse().findIndex((c) => c >= minHits);
  const top = first(rows);
  const left = first(cols);
  if (top < 0 || left < 0) return undefined;
  return { x: left, y: top, width: last(cols) - left + 1, height: last(rows) - top + 1 };
}

/**
 * Resamples the square frame [fx, fx+side)×[fy, fy+side) to 28×28 by area averaging: each output
 * pixel is the mean of the source area it covers. This is the dataset's "subsampling" without its
 * aliasing on 12-MP photos; enlarging replicates pixels so the object's extent stays exact.
 * Outside the image counts as background (0), which extends the short edge.
 */
function resampleFrame(data: Float32Array, w: number, h: number, fx: number, fy: number, side: number): Float32Array {
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
      out[oy * SIZE + ox] = v / (step * step);
    }
  }
  return out;
}

/** Unsharp mask with a 3×3 Gaussian (σ 1.0): boosts differences, so it acts most near outlines. */
export function sharpen(pixels: Float32Array, amount = SHARPEN_AMOUNT): Float32Array {
  const g = [Math.exp(-0.5), 1, Math.exp(-0.5)];
  const norm = (g[0]! + g[1]! + g[2]!) ** 2;
  const out = new Float32Array(pixels.length);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let blur = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          const v = yy >= 0 && yy < SIZE && xx >= 0 && xx < SIZE ? pixels[yy * SIZE + xx]! : 0;
          blur += g[dy + 1]! * g[dx + 1]! * v;
        }
      }
      const v = pixels[y * SIZE + x]!;
      out[y * SIZE + x] = Math.min(1, Math.max(0, v + amount * (v - blur / norm)));
    }
  }
  return out;
}

/**
 * Separable box blur per channel. The object mask is found on this, so per-pixel sensor and JPEG
 * noise averages out instead of scattering "object" specks over the whole page.
 */
function boxBlur(rgb: Float32Array, w: number, h: number, r: number): Float32Array {
  // Running sums: O(pixels) whatever the radius, so 12-MP photos stay fast.
  const pass = (src: Float32Array, len: number, lines: number, at: (line: number, k: number) => number): Float32Array => {
    const dst = new Float32Array(src.length);
    for (let line = 0; line < lines; line++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k <= Math.min(len - 1, r); k++) sum += src[at(line, k) * 3 + c]!;
        for (let k = 0; k < len; k++) {
          const lo = Math.max(0, k - r);
          const hi = Math.min(len - 1, k + r);
          dst[at(line, k) * 3 + c] = sum / (hi - lo + 1);
          if (k + r + 1 < len) sum += src[at(line, k + r + 1) * 3 + c]!;
          if (k - r >= 0) sum -= src[at(line, k - r) * 3 + c]!;
        }
      }
    }
    return dst;
  };
  const rows = pass(rgb, w, h, (y, x) => y * w + x);
  return pass(rows, h, w, (x, y) => y * w + x);
}

function photo(img: DecodedImage, options: PreprocessOptions): PreprocessedImage {
  const { width: w, height: h } = img;
  const n = w * h;
  const rgb = toRgb(img);
  // Blur radius grows with the image (about 1/150 of the shorter side): small images stay sharp.
  const smooth = Math.min(w, h) >= 64 ? boxBlur(rgb, w, h, Math.max(1, Math.round(Math.min(w, h) / 150))) : rgb;
  const model = fitBackground(smooth, w, h);
  const threshold = Math.max(TRIM_TOLERANCE, 1.5 * model.noise);
  // Per-pixel test on the unblurred image (exact edges), gated by the blurred one (no noise specks).
  const rawThreshold = smooth === rgb ? threshold : Math.max(TRIM_TOLERANCE, 1.5 * borderNoise(rgb, w, h, model));

  // Light background (mean over the image of the model's luminance) → dark objects: negate.
  const bgLumCentre = lumOf(bgAt(model, 0, 0, 0), bgAt(model, 0, 0, 1), bgAt(model, 0, 0, 2));
  const inverted = bgLumCentre > 0.5;
  const headroom = Math.max(0.2, inverted ? bgLumCentre : 1 - bgLumCentre);

  const dist = new Float32Array(n);
  const intensity = new Float32Array(n);
  const mask = new Uint8Array(n);
  let found = 0;
  for (let y = 0; y < h; y++) {
    const v = h > 1 ? (2 * y) / (h - 1) - 1 : 0;
    for (let x = 0; x < w; x++) {
      const u = w > 1 ? (2 * x) / (w - 1) - 1 : 0;
      const i = y * w + x;
      const d = distance(smooth, i, model, u, v);
      dist[i] = d;
      const raw = distance(rgb, i, model, u, v);
      const lum = lumOf(rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!);
      const bgLum = lumOf(bgAt(model, u, v, 0), bgAt(model, u, v, 1), bgAt(model, u, v, 2));
      // The dataset's negation: darker than the page is brighter in the output (lighter on a dark page).
      const signed = inverted ? bgLum - lum : lum - bgLum;
      intensity[i] = Math.max(signed, COLOUR_WEIGHT * raw, 0) / headroom;
      if (raw > rawThreshold && d > threshold / 2) {
        mask[i] = 1;
        found++;
      }
    }
  }

  const box = maskBox(mask, w, h);
  // Confidence: object contrast above the noise-aware threshold, and an object of some size.
  const contrast = box ? quantile(dist, 0.9, mask) : 0;
  const area = box ? found / n : 0;
  const confidence = box ? Math.min(1, Math.max(0, (contrast / threshold - 1) / 3)) * Math.min(1, area / 0.002) : 0;
  const empty = confidence < MIN_CONFIDENCE;
  const crop = !empty && box ? box : { x: 0, y: 0, width: w, height: h };

  // Background → 0 (subtract what the threshold calls noise), object's bright end → 1.
  const floor = COLOUR_WEIGHT * threshold / headroom / 2;
  const boxMask = new Uint8Array(n);
  for (let y = crop.y; y < crop.y + crop.height; y++) for (let x = crop.x; x < crop.x + crop.width; x++) boxMask[y * w + x] = mask[y * w + x]!;
  const high = empty ? 1 : Math.max(quantile(intensity, BRIGHT_QUANTILE, boxMask), floor + 1e-3);
  const scaled = new Float32Array(n);
  for (let i = 0; i < n; i++) scaled[i] = empty ? 0 : Math.min(1, Math.max(0, (intensity[i]! - floor) / (high - floor)));

  const margin = Math.min(Math.max(0, options.margin ?? 0), SIZE / 2 - 1);
  const side = (Math.max(crop.width, crop.height) * SIZE) / (SIZE - 2 * margin);
  // Centred, but starting on a whole output pixel (odd leftovers go left/top, as in the dataset,
  // whose mean box centre is 13.75 rather than 13.5): a half-pixel offset would blur every edge.
  const step = side / SIZE;
  const start = (extent: number) => Math.ceil((SIZE - extent / step) / 2 - 1e-6) * step;
  const frame = resampleFrame(scaled, w, h, crop.x - start(crop.width), crop.y - start(crop.height), side);
  // Sharpen only when shrinking: an enlarged small image has no detail to restore.
  const sharp = step > 1 && options.sharpen !== false ? sharpen(frame) : frame;
  // 8-bit gray, as the dataset stores it.
  const pixels = sharp.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
  const mean = (c: number) => Math.round(Math.min(1, Math.max(0, bgAt(model, 0, 0, c))) * 255);
  return {
    pixels, width: SIZE, height: SIZE, format: img.format, source: { width: w, height: h }, path: 'photo', inverted,
    box: crop, background: [mean(0), mean(1), mean(2)], confidence: Math.round(confidence * 1000) / 1000, empty,
  };
}

export function preprocessDecoded(img: DecodedImage, options: PreprocessOptions = {}): PreprocessedImage {
  if (isDatasetForm(img) && (options.margin ?? 0) === 0) return { ...passThrough(img), format: img.format };
  return photo(img, options);
}

export function preprocessImage(bytes: Buffer, fileName: string, options: PreprocessOptions = {}): PreprocessedImage {
  return preprocessDecoded(decodeImage(bytes, fileName), options);
}
