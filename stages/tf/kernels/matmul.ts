/**
 * BatchMatMul on wasm, steering transposed products onto XNNPACK.
 *
 * The stock wasm kernel uses XNNPACK's fully-connected operator only when neither operand is
 * transposed and there is a single batch; anything else falls to a blocked scalar loop. Dense-layer
 * gradients are exactly the transposed cases (dx = dy * W^T, dW = x^T * dy), so we materialise the
 * transpose (one O(size) copy) and hand the plain product to the stock kernel, which is many times
 * faster than the scalar loop for the 128x1152x128 products of the seed CNN.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { free, ours, stockKernel, transpose, type WasmBackend } from './wasm_util.js';

type Args = { inputs: NamedTensorInfoMap; attrs: NamedAttrMap; backend: WasmBackend };

function swapLastTwo(x: TensorInfo, backend: WasmBackend): TensorInfo {
  const rank = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return transpose(backend, x, perm);
}

function batchMatMul(args: Args): TensorInfo {
  const { inputs, backend } = args;
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  const stock = stockKernel(tf.BatchMatMul).kernelFunc as unknown as (args: Args) => TensorInfo;
  const single = (t: TensorInfo) => tf.util.sizeFromShape(t.shape.slice(0, -2)) === 1;
  if ((!transposeA && !transposeB) || !single(a) || !single(b) || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return stock(args);
  }
  const a2 = transposeA ? swapLastTwo(a, backend) : a;
  const b2 = transposeB ? swapLastTwo(b, backend) : b;
  const out = stock({ inputs: { a: a2, b: b2 }, attrs: { transposeA: false, transposeB: false }, backend });
  if (a2 !== a) free(backend, a2);
  // Freeing b2 also drops the XNNPACK operator the stock kernel cached on it (keyed by tensor id).
  if (b2 !== b) free(backend, b2);
  return out;
}

export const matMulKernels: KernelConfig[] = [
  { kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: ours(batchMatMul) },
];
