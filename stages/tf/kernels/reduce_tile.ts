/**
 * Identity, Tile, Sum and Mean fast paths for the shapes that training produces on wasm.
 *
 * - Identity: the stock kernel copies the tensor; a ResNet step clones ~25 activations (gradient
 *   bookkeeping). Tensors are immutable and the wasm backend reference-counts data, so the output shares
 *   the input's buffer, as the cpu and webgl backends already do.
 * - Cast to the dtype the tensor already has: the same sharing instead of the stock kernel's copy.
 *   Batch-norm moments cast every activation to float32 (tf.moments), ~1% of a batch-norm CNN step.
 * - Tile: the stock wasm kernel computes a full multi-dimensional index per output element (~60 ns each).
 *   FusedBatchNorm's gradient tiles a [1,1,1,C] vector to [N,H,W,C] and that alone was a quarter of a
 *   ResNet step. Tiling is pure copying, so it is done with memmove (copyWithin) on the heap, doubling the
 *   filled block each time.
 * - Sum/Mean over leading axes (bias and batch-norm gradients, batch-norm moments: [N,H,W,C] -> [C]):
 *   the stock kernels transpose the reduced axes innermost first. Summing rows in place (SIMD float32 over
 *   blocks of rows, blocks accumulated in float64) reads the data once and is also more accurate.
 * Anything else goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { simdRoutines } from './wasm_simd.js';
import { free, heapF32, heapOffset, ours, stockKernel, type WasmBackend } from './wasm_util.js';

type Args = { inputs: NamedTensorInfoMap; attrs: NamedAttrMap; backend: WasmBackend };

function callStock(name: string, args: Args): TensorInfo {
  return (stockKernel(name).kernelFunc as unknown as (a: Args) => TensorInfo)(args);
}

function tile(args: Args): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  const { reps } = args.attrs as unknown as tf.TileAttrs;
  const { backend } = args;
  const width = x.dtype === 'float32' || x.dtype === 'int32' ? 4 : x.dtype === 'bool' ? 1 : 0;
  if (width === 0 || x.shape.length === 0 || reps.length !== x.shape.length) return callStock(tf.Tile, args);
  const rank = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]!);
  const out = backend.makeOutput(outShape, x.dtype);
  const size = tf.util.sizeFromShape(outShape);
  if (size === 0) return out;
  // Element offsets into one heap view, so copyWithin can move data both from x and within out.
  const heap: Uint8Array | Float32Array = width === 4 ? backend.wasm.HEAPF32 : backend.wasm.HEAPU8;
  const xOff = backend.dataIdMap.get(x.dataId)!.memoryOffset / width;
  const oOff = backend.dataIdMap.get(out.dataId)!.memoryOffset / width;
  const xStrides = new Array<number>(rank);
  const oStrides = new Array<number>(rank);
  xStrides[rank - 1] = 1;
  oStrides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) {
    xStrides[d] = xStrides[d + 1]! * x.shape[d + 1]!;
    oStrides[d] = oStrides[d + 1]! * outShape[d + 1]!;
  }
  /** Replicates out[at, at+len) `times` times in place, doubling the copied span each round. */
  const replicate = (at: number, len: number, times: number) => {
    const total = len * times;
    for (let filled = len; filled < total; filled += Math.min(filled, total - filled)) {
      heap.copyWithin(at + filled, at, at + Math.min(filled, total - filled));
    }
  };
  // Fills the block of `out` for dimension d (one x sub-block, then its reps), innermost first.
  const fill = (d: number, xAt: number, oAt: number) => {
    const n = x.shape[d]!;
    if (d === rank - 1) {
      heap.copyWithin(oAt, xAt, xAt + n);
    } else {
      for (let i = 0; i < n; i++) fill(d + 1, xAt + i * xStrides[d]!, oAt + i * oStrides[d]!);
    }
    replicate(oAt, n * oStrides[d]!, reps[d]!);
  };
  fill(0, xOff, oOff);
  return out;
}

function identity(args: Args): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string') return callStock(tf.Identity, args);
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function cast(args: Args): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  return dtype === x.dtype ? identity(args) : callStock(tf.Cast, args);
}

/** Rows summed in float32 before each float64 accumulation. */
const SUM_BLOCK_ROWS = 256;

/**
 * The blocked row sum of the Sum kernel below: for each block of SUM_BLOCK_ROWS rows, `sumBlock(first,
 * count)` adds that block's rows into the zeroed float32 `partial`, and the partial is added into the
 * float64 `acc` (zeroed by the caller, at least as long as `partial`), so long reductions stay accurate.
 * PipeBatchNormGrad sums its per-channel gradients through it too, which is what makes them equal this
 * kernel's (and so tfjs' composite's) sums bit for bit.
 */
export function sumRowBlocks(backend: WasmBackend, rows: number, partial: TensorInfo, acc: Float64Array, sumBlock: (firstRow: number, count: number) => void): void {
  for (let r = 0; r < rows; r += SUM_BLOCK_ROWS) {
    const part = heapF32(backend, partial); // per block: a view from before a heap growth would be detached
    part.fill(0);
    sumBlock(r, Math.min(SUM_BLOCK_ROWS, rows - r));
    for (let i = 0; i < part.length; i++) acc[i]! += part[i]!;
  }
}

let acc = new Float64Array(0);

/** Sum (or mean) over a leading run of axes; null when the reduction has another shape. */
function reduceLeading(args: Args, mean: boolean): TensorInfo | null {
  const x = args.inputs.x as TensorInfo;
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  if (x.dtype !== 'float32' || x.shape.length < 2) return null;
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
  const k = axes.length;
  if (k === 0 || k === x.shape.length || axes.some((a, i) => a !== i)) return null;
  const rows = tf.util.sizeFromShape(x.shape.slice(0, k));
  const cols = tf.util.sizeFromShape(x.shape.slice(k));
  const outShape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  const { backend } = args;
  const out = backend.makeOutput(outShape, 'float32');
  if (acc.length < cols) acc = new Float64Array(cols);
  const a = acc;
  for (let c = 0; c < cols; c++) a[c] = 0;
  const simd = simdRoutines(backend.wasm);
  if (simd && cols % 4 === 0) {
    const partial = backend.makeOutput([cols], 'float32');
    const partialAt = heapOffset(backend, partial);
    const xAt = heapOffset(backend, x);
    sumRowBlocks(backend, rows, partial, a, (first, count) => { simd.sumRows(xAt + first * cols * 4, partialAt, count, cols); });
    free(backend, partial);
  } else {
    const src = heapF32(backend, x);
    for (let r = 0, at = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++, at++) a[c]! += src[at]!;
    }
  }
  const dst = heapF32(backend, out);
  const scale = mean && rows > 0 ? 1 / rows : 1;
  for (let c = 0; c < cols; c++) dst[c] = a[c]! * scale;
  return out;
}

export const reduceTileKernels: KernelConfig[] = [
  { kernelName: tf.Identity, backendName: 'wasm', kernelFunc: ours(identity) },
  { kernelName: tf.Cast, backendName: 'wasm', kernelFunc: ours(cast) },
  { kernelName: tf.Tile, backendName: 'wasm', kernelFunc: ours(tile) },
  { kernelName: tf.Sum, backendName: 'wasm', kernelFunc: ours((args) => reduceLeading(args, false) ?? callStock(tf.Sum, args)) },
  { kernelName: tf.Mean, backendName: 'wasm', kernelFunc: ours((args) => reduceLeading(args, true) ?? callStock(tf.Mean, args)) },
];
