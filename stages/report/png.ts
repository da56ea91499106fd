/**
 * Tiny images as inline PNG data URIs (the report must open without any network or extra files).
 * Encoding is deterministic: same pixels, same bytes.
 */
import { PNG } from 'pngjs';

/** Pixels as 0..255 values; floats in [0,1] are scaled, anything else is clamped. */
export function toBytes(values: ArrayLike<number>, floatScale: boolean): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = floatScale ? values[i]! * 255 : values[i]!;
    out[i] = Number.isFinite(v) ? Math.max(0, Math.min(255, Math.round(v))) : 0;
  }
  return out;
}

function encode(rgba: Uint8Array, width: number, height: number, colorType: 0 | 2): string {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  const bytes = PNG.sync.write(png, { colorType, deflateLevel: 9 });
  return `data:image/png;base64,${bytes.toString('base64')}`;
}

/** Grayscale image (`gray` holds width*height bytes, row-major). */
export function grayPng(gray: Uint8Array, width: number, height: number): string {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const v = gray[i] ?? 0;
    rgba[i * 4] = v;
    rgba[i * 4 + 1] = v;
    rgba[i * 4 + 2] = v;
    rgba[i * 4 + 3] = 255;
  }
  return encode(rgba, width, height, 0);
}

/** Stops of a perceptual dark→bright colour map (inferno-like); v in [0,1]. */
const STOPS: readonly (readonly [number, number, number])[] = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];

export function heatColor(v: number): [number, number, number] {
  const t = Number.isFinite(v) ? Math.max(0, Math.min(1, v)) : 0;
  const pos = t * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * f)) as [number, number, number];
}

/** Heatmap in [0,1] (values outside are clamped) through the colour map. */
export function heatPng(heat: ArrayLike<number>, width: number, height: number): string {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = heatColor(heat[i] ?? 0);
    rgba.set([r, g, b, 255], i * 4);
  }
  return encode(rgba, width, height, 2);
}

/** Grayscale image with the heatmap blended on top, more opaque where the heat is high. */
export function overlayPng(gray: Uint8Array, heat: ArrayLike<number>, width: number, height: number): string {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const h = Math.max(0, Math.min(1, Number.isFinite(heat[i]!) ? heat[i]! : 0));
    const alpha = 0.25 + 0.5 * h;
    const [r, g, b] = heatColor(h);
    const v = gray[i] ?? 0;
    rgba.set([Math.round(v * (1 - alpha) + r * alpha), Math.round(v * (1 - alpha) + g * alpha), Math.round(v * (1 - alpha) + b * alpha), 255], i * 4);
  }
  return encode(rgba, width, height, 2);
}

/** Rescales a map to [0,1] by its own maximum (a per-class mean heatmap rarely reaches 1). */
export function normalizeMax(values: ArrayLike<number>): Float32Array {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = max > 0 ? Math.max(0, values[i]!) / max : 0;
  return out;
}
