/**
 * IDX file parsing (the MNIST family's format), gz or raw, with the checks a user needs when a file
 * is missing, truncated or of the wrong kind: magic number, dimensions and exact byte length.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { StageInputError } from '../types.js';

export const IMAGE_MAGIC = 0x00000803;
export const LABEL_MAGIC = 0x00000801;

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  readonly pixels: Uint8Array;
}

export class DataFileError extends StageInputError {
  constructor(readonly file: string, readonly check: string, hint: string) {
    super(`${file}: ${check}. ${hint}`);
  }
}

const REFETCH = 'Copy the file again from the official Fashion-MNIST release, or point `path:` (or $FASHION_MNIST_DIR) at a directory with intact files.';

/** Reads a file and gunzips it when it starts with the gzip magic bytes. */
export async function readMaybeGzip(file: string): Promise<Buffer> {
  const bytes = await readFile(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (error) {
      throw new DataFileError(file, `gzip data is damaged (${(error as Error).message})`, 'The file is probably truncated. ' + REFETCH);
    }
  }
  return bytes;
}

export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

export function parseImages(bytes: Buffer, file: string): IdxImages {
  if (bytes.length < 16) throw new DataFileError(file, `only ${bytes.length} bytes, too short for an IDX image header`, REFETCH);
  const magic = bytes.readUInt32BE(0);
  if (magic !== IMAGE_MAGIC) {
    const what = magic === LABEL_MAGIC ? ' (this is a label file)' : '';
    throw new DataFileError(file, `magic number 0x${magic.toString(16).padStart(8, '0')} is not an IDX image file's 0x00000803${what}`, 'Check that the images and labels files are not swapped. ' + REFETCH);
  }
  const count = bytes.readUInt32BE(4);
  const rows = bytes.readUInt32BE(8);
  const cols = bytes.readUInt32BE(12);
  if (rows !== 28 || cols !== 28) throw new DataFileError(file, `images are ${rows}x${cols}, expected 28x28`, REFETCH);
  const expected = 16 + count * rows * cols;
  if (bytes.length !== expected) {
    throw new DataFileError(file, `length is ${bytes.length} bytes but the header promises ${count} images (${expected} bytes)`, 'The file is truncated or padded. ' + REFETCH);
  }
  return { count, rows, cols, pixels: new Uint8Array(bytes.buffer, bytes.byteOffset + 16, count * rows * cols) };
}

export function parseLabels(bytes: Buffer, file: string, numClasses: number): Uint8Array {
  if (bytes.length < 8) throw new DataFileError(file, `only ${bytes.length} bytes, too short for an IDX label header`, REFETCH);
  const magic = bytes.readUInt32BE(0);
  if (magic !== LABEL_MAGIC) {
    const what = magic === IMAGE_MAGIC ? ' (this is an image file)' : '';
    throw new DataFileError(file, `magic number 0x${magic.toString(16).padStart(8, '0')} is not an IDX label file's 0x00000801${what}`, 'Check that the images and labels files are not swapped. ' + REFETCH);
  }
  const count = bytes.readUInt32BE(4);
  if (bytes.length !== 8 + count) {
    throw new DataFileError(file, `length is ${bytes.length} bytes but the header promises ${count} labels (${8 + count} bytes)`, 'The file is truncated or padded. ' + REFETCH);
  }
  const labels = new Uint8Array(bytes.buffer, bytes.byteOffset + 8, count);
  const bad = labels.findIndex((l) => l >= numClasses);
  if (bad >= 0) throw new DataFileError(file, `label ${labels[bad]} at index ${bad} is outside 0..${numClasses - 1}`, REFETCH);
  return labels;
}
