/**
 * Decoding of user images for `pipe predict`: PNG (any bit depth, palette, alpha) and baseline/progressive
 * JPEG with EXIF orientation, to 8-bit RGBA. Pure JS (pngjs, jpeg-js): no native downloads.
 * Every failure is an ImageFileError naming the file, so one bad upload does not stop a batch.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { StageInputError } from '../types.js';

/** Decoded images above this are refused: 50 MP of RGBA is already 200 MB. */
const MAX_MEGAPIXELS = 50;

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

function checkSize(file: string, width: number, height: number): void {
  if (width < 1 || height < 1) throw new ImageFileError(file, 'corrupt', `image has no pixels (${width}×${height})`);
  if (width * height > MAX_MEGAPIXELS * 1e6) {
    throw new ImageFileError(file, 'too-large', `image is ${width}×${height}; the limit is ${MAX_MEGAPIXELS} megapixels`);
  }
}

function decodeRgba(bytes: Buffer, file: string): { rgba: Uint8Array; width: number; height: number; format: 'png' | 'jpeg' } {
  if (bytes.length === 0) throw new ImageFileError(file, 'unsupported', 'the file is empty (0 bytes); expected a PNG or JPEG image');
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

export interface DecodedImage {
  /** 8-bit RGBA, row-major, upright (EXIF orientation applied). */
  readonly rgba: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly format: 'png' | 'jpeg';
}

/** Decodes a PNG/JPEG to upright RGBA, so the object stands as the photographer saw it. */
export function decodeImage(bytes: Buffer, file: string): DecodedImage {
  const decoded = decodeRgba(bytes, file);
  const orientation = decoded.format === 'jpeg' ? jpegOrientation(bytes) : 1;
  if (orientation === 1) return decoded;
  const { width: w, height: h, rgba } = decoded;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const from = sourceIndex(orientation, x, y, w, h) * 4;
      out.set(rgba.subarray(from, from + 4), (y * ow + x) * 4);
    }
  }
  return { rgba: out, width: ow, height: oh, format: decoded.format };
}
