/**
 * FusedBatchNorm's gradient in one pass on the wasm backend.
 *
 * tfjs differentiates FusedBatchNorm with a composite (FusedBatchNorm_grad.js): Sub, Tile, nine
 * Multiplies and four Sums, each a full pass over the [N,H,W,C] activation with its own temporary,
 * for the x, mean, variance, scale and offset gradients. `PipeBatchNormGrad` reads x and dy once,
 * writes dx, and sums the other four per channel in the same pass (batchNormGrad in wasm_simd.ts).
 *
 * Bit-identical to the composite on wasm, so no trained number moves: every element sees the same
 * float32 operations in the same order, the tiny per-channel vectors (1/sqrt(variance + eps), -r, and
 * -r³/2) are made by the same tf ops as there, and the per-channel sums go through the wasm Sum
 * kernel's own blocked row sum (sumRowBlocks). Tested against the composite in
 * test/tf/kernels.test.ts, gradient by gradient and through Adam steps of a batch-norm CNN.
 * Any other case (another backend, no SIMD, channels not a multiple of 4, a non-vector mean or
 * no scale) keeps tfjs' own gradient, which overrideGradient keeps beside ours.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, Tensor, TensorInfo } from '@tensorflow/tfjs';
import { sumRowBlocks } from './reduce_tile.js';
import { simdRoutines } from './wasm_simd.js';
import { free, heapF32, heapOffset, ours, overrideGradient, stockGradient, type WasmBackend } from './wasm_util.js';

export const BATCH_NORM_GRAD = 'PipeBatchNormGrad';

/** Per-channel coefficient vectors, in the order batchNormGrad's `coef` block holds them. */
const COEFFICIENTS = ['mean', 'r', 'scale', 'minusR', 'minusHalfRCube'] as const;
/** The four per-channel gradients summed over rows, in the order of batchNormGrad's partial rows. */
const SUMMED = 4;

let sums = new Float64Array(0);

/** Outputs [dx, dMean, dVariance, dScale, dOffset]; the gradFunc below calls it only where it applies. */
function batchNormGrad(args: { inputs: NamedTensorInfoMap; backend: WasmBackend }): TensorInfo[] {
  const { backend, inputs } = args;
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const simd = simdRoutines(backend.wasm);
  const cols = x.shape[x.shape.length - 1] ?? 0;
  const size = tf.util.sizeFromShape(x.shape);
  if (!simd || cols % 4 !== 0 || size === 0) throw new Error(`${BATCH_NORM_GRAD}: unsupported input (the gradient should have fallen back)`);
  const rows = size / cols;
  const dx = backend.makeOutput(x.shape, 'float32');
  const outs = Array.from({ length: SUMMED }, () => backend.makeOutput([cols], 'float32'));
  const coef = backend.makeOutput([COEFFICIENTS.length, cols], 'float32');
  const partial = backend.makeOutput([SUMMED, cols], 'float32');
  // Heap views only after the allocations above (growing the heap detaches older views).
  const coefView = heapF32(backend, coef);
  COEFFICIENTS.forEach((name, i) => coefView.set(heapF32(backend, inputs[name] as TensorInfo), i * cols));
  if (sums.length < SUMMED * cols) sums = new Float64Array(SUMMED * cols);
  sums.fill(0, 0, SUMMED * cols);
  const [xAt, dyAt, dxAt, coefAt, partialAt] = [x, dy, dx, coef, partial].map((t) => heapOffset(backend, t)) as [number, number, number, number, number];
  sumRowBlocks(backend, rows, partial, sums, (first, count) => {
    const bytes = first * cols * 4;
    simd.batchNormGrad(xAt + bytes, dyAt + bytes, dxAt + bytes, coefAt, partialAt, count, cols);
  });
  outs.forEach((out, k) => {
    const view = heapF32(backend, out);
    for (let c = 0; c < cols; c++) view[c] = sums[k * cols + c]!;
  });
  free(backend, coef, partial);
  return [dx, ...outs];
}

export const batchNormGradKernels: KernelConfig[] = [
  { kernelName: BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: ours(batchNormGrad) },
];

function fusedApplies(x: Tensor, mean: Tensor, scale: Tensor | undefined): scale is Tensor {
  const cols = x.shape[x.shape.length - 1] ?? 0;
  if (scale == null || x.dtype !== 'float32' || x.rank !== 4 || mean.rank !== 1 || scale.rank !== 1 || cols % 4 !== 0 || x.size === 0) return false;
  if (!tf.getKernel(BATCH_NORM_GRAD, tf.getBackend())) return false;
  return simdRoutines((tf.backend() as unknown as WasmBackend).wasm) !== null;
}

/** FusedBatchNorm's gradient through PipeBatchNormGrad where it applies, else tfjs' own gradient. */
export function registerBatchNormGradient(): void {
  overrideGradient(tf.FusedBatchNorm, ['x', 'mean', 'variance', 'scale'], (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, mean, variance, scale] = saved as [Tensor, Tensor, Tensor, Tensor | undefined];
    if (!fusedApplies(x, mean, scale)) return stockGradient(tf.FusedBatchNorm).gradFunc(dy, saved, attrs);
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    // The same ops as tfjs' composite, on [C] vectors: their values must match it bit for bit.
    const r = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const minusR = tf.mul(r, tf.scalar(-1));
    const minusHalfRCube = tf.mul(tf.mul(tf.mul(r, r), r), tf.scalar(-0.5));
    const [dx, dMean, dVariance, dScale, dOffset] = tf.engine().runKernel(BATCH_NORM_GRAD, { x, dy: dy as Tensor, mean, r, scale, minusR, minusHalfRCube }) as Tensor[];
    return { x: () => dx!, mean: () => dMean!, variance: () => dVariance!, scale: () => dScale!, offset: () => dOffset! };
  });
}
