/**
 * Conv2D gradients for the wasm backend (the stock Conv2DBackpropInput is a scalar C++ loop and there is
 * no Conv2DBackpropFilter at all), mapped onto XNNPACK's SIMD kernels in one of two ways:
 *  - as a *forward* Conv2D (flipped filter for dx; dy used as the filter for dW), which needs no copies
 *    beyond small transposes. Measured on the seed CNN: ~3x an im2col + BatchMatMul version.
 *  - as one GEMM (XNNPACK fully-connected, via the stock BatchMatMul) plus an im2col / col2im pass in JS,
 *    for the shapes where the conv form wastes work: few input channels, small or strided outputs.
 * Each route's reason is at its function. NHWC only, like the wasm backend's Conv2D itself.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { simdRoutines } from './wasm_simd.js';
import { free, heapF32, heapOffset, ours, run, stockKernel, transpose, type WasmBackend } from './wasm_util.js';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

/** Stride-1 convolution with explicit (non-negative) padding and optional dilation, run by XNNPACK. */
function conv(backend: WasmBackend, x: TensorInfo, filter: TensorInfo, pads: [number, number, number, number], dilations: [number, number]): TensorInfo {
  const [top, bottom, left, right] = pads;
  return run('Conv2D', backend, { x, filter }, {
    strides: [1, 1],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: 'NHWC',
    dilations,
  });
}

/**
 * Copies x [N,H,W,C] into a zeroed [N, top+(H-1)*sh+1+bottom, left+(W-1)*sw+1+right, C] buffer, spreading
 * rows/columns `sh`/`sw` apart. Negative pads crop. Needed for strided backprop-input (the transposed
 * convolution of a strided conv is a convolution over the zero-dilated gradient) and for negative padding,
 * which XNNPACK cannot express.
 */
function dilateAndPad(backend: WasmBackend, x: TensorInfo, sh: number, sw: number, pads: [number, number, number, number]): TensorInfo {
  const [n, h, w, c] = x.shape as Shape4;
  const [top, bottom, left, right] = pads;
  const oh = top + (h - 1) * sh + 1 + bottom;
  const ow = left + (w - 1) * sw + 1 + right;
  const out = backend.makeOutput([n, oh, ow, c], 'float32');
  const dst = heapF32(backend, out); // after makeOutput: the allocation may have grown the heap
  const src = heapF32(backend, x);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      const r = top + i * sh;
      if (r < 0 || r >= oh) continue;
      for (let j = 0; j < w; j++) {
        const col = left + j * sw;
        if (col < 0 || col >= ow) continue;
        const s = ((b * h + i) * w + j) * c;
        const d = ((b * oh + r) * ow + col) * c;
        for (let k = 0; k < c; k++) dst[d + k] = src[s + k]!;
      }
    }
  }
  return out;
}

interface BackpropInputAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: Rounding;
  inputShape: Shape4;
}

/**
 * dx by GEMM + col2im: columns [N*outH*outW, kh*kw*C] = dy [N*outH*outW, outC] x W^T, then each column
 * row is added into the window it came from. Does exactly the useful multiply-adds, so it wins where the
 * conv route below would mostly multiply padding or stride zeros (small outputs, strided convs).
 */
function backpropInputGemm(backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, outChannels: co } = info;
  const { top, left } = info.padInfo;
  const rows = n * oh * ow;
  const cols = kh * kw * c;
  const wT = transpose(backend, { ...filter, shape: [cols, co] }, [1, 0]); // [outC, kh*kw*C]
  const colsInfo = run(tf.BatchMatMul, backend,
    { a: { ...dy, shape: [1, rows, co] }, b: { ...wT, shape: [1, co, cols] } },
    { transposeA: false, transposeB: false });
  free(backend, wT);
  const dx = backend.makeOutput([n, h, w, c], 'float32');
  const out = heapF32(backend, dx);
  const col = heapF32(backend, colsInfo);
  out.fill(0);
  // Each window row (kw taps, kw*c floats) is contiguous in both col and dx, and within one (b, y, xo, i)
  // every dx element gets at most one addition, so adding whole rows keeps the order of additions per
  // element (and float32 sums of two float32 values round alike in JS doubles and in SIMD lanes).
  const simd = c % 4 === 0 ? simdRoutines(backend.wasm) : null;
  const outAt = heapOffset(backend, dx);
  const colAt = heapOffset(backend, colsInfo);
  /** out[d, d+len) += col[s, s+len) */
  const addRun = simd
    ? (d: number, s: number, len: number) => simd.sumRows(colAt + 4 * s, outAt + 4 * d, 1, len)
    : (d: number, s: number, len: number) => {
        for (let k = 0; k < len; k++) out[d + k] = out[d + k]! + col[s + k]!;
      };
  const span = kw * c;
  let s = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const x0 = xo * sw - left;
        const wholeRow = x0 >= 0 && x0 + kw <= w;
        for (let i = 0; i < kh; i++, s += span) {
          const yy = y * sh + i - top;
          if (yy < 0 || yy >= h) continue;
          const rowStart = ((b * h + yy) * w + x0) * c;
          if (wholeRow) {
            addRun(rowStart, s, span);
            continue;
          }
          for (let j = 0; j < kw; j++) {
            const xx = x0 + j;
            if (xx >= 0 && xx < w) addRun(rowStart + j * c, s + j * c, c);
          }
        }
      }
    }
  }
  free(backend, colsInfo);
  return dx;
}

/**
 * dx = conv(dy dilated by the stride and padded by (k-1-pad), filter flipped spatially with in/out channels
 * swapped). With stride 1 it needs no copy of dy (XNNPACK pads implicitly) and is the fastest route, unless
 * the input is much larger than the output: then most of its taps land on padding, and the GEMM route
 * above (which also covers strided convs) does a fraction of the work. The GEMM route also takes inputs
 * with very few channels (a first layer's dx, which fused convs compute even for the model input).
 */
function conv2DBackpropInput(args: { inputs: NamedTensorInfoMap; attrs: NamedAttrMap; backend: WasmBackend }): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as BackpropInputAttrs;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  if (attrs.dataFormat === 'NCHW') {
    return (stockKernel(tf.Conv2DBackpropInput).kernelFunc as unknown as typeof conv2DBackpropInput)(args);
  }
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight, inWidth, outHeight, outWidth } = info;
  const tinyOutput = kh * kw * info.inChannels <= info.outChannels; // e.g. dx of a 1-channel input: XNNPACK wastes lanes
  if (inHeight * inWidth >= 2 * outHeight * outWidth || tinyOutput) return backpropInputGemm(backend, dy, filter, info);
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const upH = (outHeight - 1) * sh + 1;
  const upW = (outWidth - 1) * sw + 1;
  const pads: [number, number, number, number] = [top, inHeight - upH + info.padInfo.top, left, inWidth - upW + info.padInfo.left];

  const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
  const flippedT = transpose(backend, flipped, [0, 1, 3, 2]); // [kh, kw, outC, inC]
  free(backend, flipped);
  let dx: TensorInfo;
  if (sh === 1 && sw === 1 && pads.every((p) => p >= 0)) {
    dx = conv(backend, dy, flippedT, pads, [1, 1]);
  } else {
    const spread = dilateAndPad(backend, dy, sh, sw, pads);
    dx = conv(backend, spread, flippedT, [0, 0, 0, 0], [1, 1]);
    free(backend, spread);
  }
  free(backend, flippedT);
  return dx;
}

interface BackpropFilterAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: Rounding;
  filterShape: Shape4;
}

/**
 * Lays x out as im2col patches P [N*outH*outW, kh*kw*C] (zeros where the window hangs over the padding).
 */
function im2col(backend: WasmBackend, x: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const cols = kh * kw * c;
  const out = backend.makeOutput([n * oh * ow, cols], 'float32');
  const dst = heapF32(backend, out);
  const src = heapF32(backend, x);
  // A window row inside the image is kw*c contiguous floats of x: one copy, no per-tap bounds checks.
  // Long runs go through copyWithin on the heap (both tensors live in it), short ones (c = 1) a loop.
  const heap = backend.wasm.HEAPF32;
  const [srcAt, dstAt] = [heapOffset(backend, x) / 4, heapOffset(backend, out) / 4];
  const span = kw * c;
  let d = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const x0 = xo * sw - left;
        const wholeRow = x0 >= 0 && x0 + kw <= w;
        for (let i = 0; i < kh; i++) {
          const yy = y * sh + i - top;
          const rowStart = ((b * h + yy) * w + x0) * c;
          if (yy >= 0 && yy < h && wholeRow) {
            if (span >= 16) heap.copyWithin(dstAt + d, srcAt + rowStart, srcAt + rowStart + span);
            else for (let k = 0; k < span; k++) dst[d + k] = src[rowStart + k]!;
            d += span;
            continue;
          }
          for (let j = 0; j < kw; j++) {
            const xx = x0 + j;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) {
              for (let k = 0; k < c; k++) dst[d++] = 0;
            } else {
              const at = rowStart + j * c;
              for (let k = 0; k < c; k++) dst[d++] = src[at + k]!;
            }
          }
        }
      }
    }
  }
  return out;
}

/** [rows, cols] -> [cols, rows]; the SIMD routine runs ~4x faster than the stock Transpose on this shape. */
function transpose2D(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const [rows, cols] = x.shape as [number, number];
  const simd = simdRoutines(backend.wasm);
  if (!simd || rows % 4 !== 0 || cols % 4 !== 0) return transpose(backend, x, [1, 0]);
  const out = backend.makeOutput([cols, rows], 'float32');
  simd.transpose4(heapOffset(backend, x), heapOffset(backend, out), rows, cols);
  return out;
}

/**
 * Filter gradient as one GEMM, dW^T [outC, kh*kw*C] = dy^T [outC, N*outH*outW] x P, used when kh*kw*C is
 * small (first layers, C = 1). XNNPACK packs the right-hand operand afresh on every call, and here P is
 * the small one: the conv route below would pack all of dy, which for a 28x28x32 first layer costs ~8x
 * its arithmetic.
 */
function backpropFilterGemm(backend: WasmBackend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: c, outChannels: co } = info;
  const rows = info.batchSize * info.outHeight * info.outWidth;
  const cols = kh * kw * c;
  const patches = im2col(backend, x, info);
  const dyT = transpose2D(backend, { ...dy, shape: [rows, co] });
  const prod = run(tf.BatchMatMul, backend,
    { a: { ...dyT, shape: [1, co, rows] }, b: { ...patches, shape: [1, rows, cols] } },
    { transposeA: false, transposeB: false }); // [1, outC, kh*kw*C]
  free(backend, patches, dyT);
  const dwT = transpose(backend, { ...prod, shape: [co, cols] }, [1, 0]);
  free(backend, prod);
  return { ...dwT, shape: [kh, kw, c, co] };
}

/**
 * dW[i,j,c,o] = sum over (n,y,x) of xpad[n, y*s+i, x*s+j, c] * dy[n,y,x,o]. That is a convolution whose
 * "batch" is the input channel c, whose input channels are the examples n, and whose filter is dy itself
 * ([outH, outW, N, outC]) applied with dilation = stride; the output [C, kh, kw, outC] is transposed back.
 * XNNPACK runs it as a GEMM with a long reduction (N*outH*outW); packing dy as the "filter" costs about
 * as much as kh*kw*C multiply-adds per element, so small-C layers take the GEMM route above instead.
 */
function conv2DBackpropFilter(args: { inputs: NamedTensorInfoMap; attrs: NamedAttrMap; backend: WasmBackend }): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as BackpropFilterAttrs;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports NHWC only (as does wasm Conv2D)');
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight, inWidth, outHeight, outWidth } = info;
  if (kh * kw * info.inChannels <= info.outChannels) return backpropFilterGemm(backend, x, dy, info);
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Pads that make the stride-1, dilation-s conv produce exactly kh x kw outputs; negative = rows never read.
  const bottom = kh + (outHeight - 1) * sh - inHeight - top;
  const right = kw + (outWidth - 1) * sw - inWidth - left;

  let xt = transpose(backend, x, [3, 1, 2, 0]); // [C, H, W, N]
  if (bottom < 0 || right < 0) {
    const [c, h, w, n] = xt.shape as Shape4;
    const cropped = run('Slice', backend, { x: xt }, { begin: [0, 0, 0, 0], size: [c, h + Math.min(bottom, 0), w + Math.min(right, 0), n] });
    free(backend, xt);
    xt = cropped;
  }
  const dyt = transpose(backend, dy, [1, 2, 0, 3]); // [outH, outW, N, outC]
  const out = conv(backend, xt, dyt, [top, Math.max(bottom, 0), left, Math.max(right, 0)], [sh, sw]); // [C, kh, kw, outC]
  free(backend, xt, dyt);
  const dw = transpose(backend, out, [1, 2, 0, 3]);
  free(backend, out);
  return dw;
}

export const convBackpropKernels: KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: ours(conv2DBackpropInput) },
  { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: ours(conv2DBackpropFilter) },
];
