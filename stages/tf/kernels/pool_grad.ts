/**
 * MaxPoolGrad for the wasm backend, over the wasm heap.
 *
 * The stock wasm kernel loops, for every input pixel, over every window that could contain it and
 * recomputes the window's argmax each time; on the seed CNN it was ~21% of a training step.
 * - 2x2 windows, stride 2, no padding (every pool in the seed CNN and ResNet): one SIMD pass (wasm_simd.ts)
 *   that writes every dx element once, ~8x faster than the best JS loop (whose data-dependent branches
 *   mispredict on post-ReLU data).
 * - Anything else: a JS loop visiting each output window once, tracking the argmax of all channels
 *   together (NHWC keeps channels contiguous, so the scan reads memory in order) and scattering dy to it.
 *
 * Tie-breaking matches the cpu backend (and TF): the first maximum in row-major window order wins, which
 * matters after ReLU where whole windows are 0. (Only windows whose first element is NaN or whose values
 * are all -Infinity differ: the SIMD path gives their gradient to the first element, cpu to none.)
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { simdRoutines } from './wasm_simd.js';
import { heapF32, heapOffset, ours, type WasmBackend } from './wasm_util.js';

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

let bestVal = new Float32Array(0);
let bestIdx = new Int32Array(0);

function maxPoolGrad(args: { inputs: NamedTensorInfoMap; attrs: NamedAttrMap; backend: WasmBackend }): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  const input = inputs.input as TensorInfo;
  const dyInfo = inputs.dy as TensorInfo;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;

  const dxInfo = backend.makeOutput(input.shape, 'float32');
  // Views only after the allocation above: growing the heap detaches older views.
  const dx = heapF32(backend, dxInfo);
  const simd = simdRoutines(backend.wasm);
  if (simd && filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2 &&
      padTop === 0 && padLeft === 0 && c % 4 === 0 && outHeight === inHeight >> 1 && outWidth === inWidth >> 1) {
    // The common pool (2x2, stride 2, valid): one SIMD pass writes every covered dx element.
    if (inHeight % 2 !== 0 || inWidth % 2 !== 0) dx.fill(0); // the odd last row/column gets no gradient
    simd.maxPoolGrad2x2(heapOffset(backend, input), heapOffset(backend, dyInfo), heapOffset(backend, dxInfo),
      batchSize, inHeight, inWidth, c, outHeight, outWidth);
    return dxInfo;
  }
  const x = heapF32(backend, input);
  const dy = heapF32(backend, dyInfo);
  dx.fill(0);
  if (bestVal.length < c) {
    bestVal = new Float32Array(c);
    bestIdx = new Int32Array(c);
  }
  const val = bestVal;
  const idx = bestIdx;

  for (let b = 0; b < batchSize; b++) {
    const xBatch = b * inHeight * inWidth * c;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - padTop;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(inHeight, y0 + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - padLeft;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(inWidth, x0 + filterWidth);
        // A plain loop: TypedArray.fill per window costs a builtin call and dominated the kernel.
        for (let ch = 0; ch < c; ch++) {
          val[ch] = -Infinity;
          idx[ch] = -1;
        }
        for (let yy = yStart; yy < yEnd; yy++) {
          for (let xx = xStart; xx < xEnd; xx++) {
            const base = xBatch + (yy * inWidth + xx) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch]!;
              if (v > val[ch]!) {
                val[ch] = v;
                idx[ch] = base + ch;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          const at = idx[ch]!;
          if (at >= 0) dx[at] = dx[at]! + dy[dyBase + ch]!;
        }
      }
    }
  }
  return dxInfo;
}

export const poolGradKernels: KernelConfig[] = [
  { kernelName: tf.MaxPoolGrad, backendName: 'wasm', kernelFunc: ours(maxPoolGrad) },
];
