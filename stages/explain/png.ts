/** PNG output for `explain`: small grayscale/RGB images, enlarged so 28×28 pixels stay visible. */
import { PNG } from 'pngjs';

/** Nearest-neighbour enlargement by an integer factor (keeps the 28×28 pixel grid honest). */
export function upscale(data: Uint8Array, width: number, height: number, channels: number, factor: number): Uint8Array {
  if (factor === 1) return data;
  const w = width * factor;
  const out = new Uint8Array(w * height * factor * channels);
  for (let y = 0; y < height * factor; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < w; x++) {
      const src = (sy * width + Math.floor(x / factor)) * channels;
      out.set(data.subarray(src, src + channels), (y * w + x) * channels);
    }
  }
  return out;
}

/** Encodes 8-bit grayscale (channels 1) or RGB (channels 3) pixels as PNG bytes. */
export function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3): Buffer {
  if (data.length !== width * height * channels) {
    throw new RangeError(`encodePng: ${data.length} bytes for ${width}×${height}×${channels}`);
  }
  const png = new PNG({ width, height, colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return PNG.sync.write(png, { colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false });
}
