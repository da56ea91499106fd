/**
 * Minimal reader/writer for NumPy `.npy` files (format version 1.0, little-endian, C order),
 * so every tensor artifact opens with `numpy.load`. Only the dtypes pipe produces are supported.
 */
import { UserError } from '../stages/errors.js';
import { open, readFile } from 'node:fs/promises';

export type NpyDtype = 'uint8' | 'int32' | 'float32' | 'float64';
export type NpyData = Uint8Array | Int32Array | Float32Array | Float64Array;

export interface NpyArray<T extends NpyData = NpyData> {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly data: T;
}

const DESCR: Record<NpyDtype, string> = { uint8: '|u1', int32: '<i4', float32: '<f4', float64: '<f8' };
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export class NpyFormatError extends UserError {
  readonly reason = 'npy-format';
  constructor(readonly file: string, detail: string) {
    super(`${file}: not a valid .npy file (${detail})`);
  }
}

export function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Float32Array) return 'float32';
  return 'float64';
}

function header(dtype: NpyDtype, shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let text = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Total header (magic 6 + version 2 + len 2 + text + '\n') must be a multiple of 64.
  const unpadded = 10 + text.length + 1;
  text += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(text.length, 8);
  return Buffer.concat([head, Buffer.from(text, 'latin1')]);
}

/** Serialises an array to `.npy` bytes. */
export function encodeNpy(data: NpyData, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`shape [${shape.join(',')}] holds ${count} values but the data has ${data.length}`);
  }
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([header(dtypeOf(data), shape), body]);
}

/** The header of `.npy` bytes (the first bytes of the file suffice): dtype, shape, where the data starts. */
function parseHeader(bytes: Buffer, file: string): { dtype: NpyDtype; shape: number[]; offset: number } {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw new NpyFormatError(file, 'bad magic');
  const major = bytes[6];
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const text = bytes.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (/'fortran_order':\s*True/.test(text)) throw new NpyFormatError(file, 'Fortran order is not supported');
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((d) => DESCR[d] === descr);
  if (!dtype || shapeText === undefined) throw new NpyFormatError(file, `unsupported header ${text.trim()}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { dtype, shape, offset: start + headerLen };
}

/** Dtype and shape of a `.npy` file, reading only its header (previews of arrays of hundreds of MB). */
export async function readNpyHeader(file: string): Promise<{ dtype: NpyDtype; shape: number[] }> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const { dtype, shape } = parseHeader(head.subarray(0, bytesRead), file);
    return { dtype, shape };
  } finally {
    await handle.close();
  }
}

/** Parses `.npy` bytes; `file` only names the source in errors. */
export function decodeNpy(bytes: Buffer, file = '<buffer>'): NpyArray {
  const { dtype, shape, offset } = parseHeader(bytes, file);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(offset);
  // Copy so the typed array is aligned and owns its memory.
  const aligned = new Uint8Array(body.length);
  aligned.set(body);
  const ctor = { uint8: Uint8Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[dtype];
  const expectedBytes = count * ctor.BYTES_PER_ELEMENT;
  if (aligned.byteLength !== expectedBytes) {
    throw new NpyFormatError(file, `expected ${expectedBytes} data bytes for shape (${shape.join(',')}), found ${aligned.byteLength}`);
  }
  return { dtype, shape, data: new ctor(aligned.buffer, 0, count) };
}

export async function readNpy(file: string): Promise<NpyArray> {
  return decodeNpy(await readFile(file), file);
}

/** Writes `.npy` without building one big concatenated buffer (arrays here reach ~200 MB). */
export async function writeNpy(file: string, data: NpyData, shape: readonly number[]): Promise<void> {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new NpyFormatError(file, `shape [${shape.join(',')}] holds ${count} values but the data has ${data.length}`);
  }
  const handle = await open(file, 'w');
  try {
    await handle.write(header(dtypeOf(data), shape));
    await handle.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    await handle.sync();
  } finally {
    await handle.close();
  }
}
