/**
 * FusedBatchNorm (inference form, also used by training after the moments are computed) on wasm.
 *
 * The stock kernel resolves the broadcast of mean/variance/scale/offset per element and ran at ~9 ns per
 * element: 26 ms for the first batch-norm layer of a batch-128 CNN. Folding the four vectors into one
 * per-channel scale a = scale / sqrt(variance + eps) and shift b = offset - mean * a turns the op into a
 * single streaming pass, done by the SIMD affineRows routine. Other layouts go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { simdRoutines } from './wasm_simd.js';
import { free, heapF32, heapOffset, ours, stockKernel, type WasmBackend } from './wasm_util.js';

type Args = { inputs: NamedTensorInfoMap; attrs: NamedAttrMap; backend: WasmBackend };

function fusedBatchNorm(args: Args): TensorInfo {
  const { inputs, backend } = args;
  const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
  const x = inputs.x as TensorInfo;
  const params = { mean: inputs.mean, variance: inputs.variance, scale: inputs.scale, offset: inputs.offset };
  const cols = x.shape[x.shape.length - 1] ?? 0;
  const size = tf.util.sizeFromShape(x.shape);
  const simd = simdRoutines(backend.wasm);
  // Each parameter must be a per-channel vector (any shape of `cols` elements, e.g. [C] or [1,1,1,C]) or a scalar.
  const perChannel = (t: TensorInfo | undefined) => t == null || (t.dtype === 'float32' && [1, cols].includes(tf.util.sizeFromShape(t.shape)));
  if (!simd || x.dtype !== 'float32' || cols % 4 !== 0 || size === 0 || !Object.values(params).every(perChannel)) {
    return (stockKernel(tf.FusedBatchNorm).kernelFunc as unknown as (a: Args) => TensorInfo)(args);
  }
  const ab = backend.makeOutput([2, cols], 'float32');
  const out = backend.makeOutput(x.shape, 'float32');
  // Heap views only after the allocations above (growing the heap detaches older views).
  const read = (t: TensorInfo | undefined, fallback: number) => {
    if (t == null) return () => fallback;
    const v = heapF32(backend, t);
    return v.length === 1 ? () => v[0]! : (c: number) => v[c]!;
  };
  const [mean, variance, scale, offset] = [read(params.mean, 0), read(params.variance, 1), read(params.scale, 1), read(params.offset, 0)];
  const coef = heapF32(backend, ab);
  for (let c = 0; c < cols; c++) {
    const a = scale(c) / Math.sqrt(variance(c) + varianceEpsilon);
    coef[c] = a;
    coef[cols + c] = offset(c) - mean(c) * a;
  }
  simd.affineRows(heapOffset(backend, x), heapOffset(backend, ab), heapOffset(backend, out), size / cols, cols);
  free(backend, ab);
  return out;
}

export const batchNormKernels: KernelConfig[] = [
  { kernelName: tf.FusedBatchNorm, backendName: 'wasm', kernelFunc: ours(fusedBatchNorm) },
];
