/**
 * The ReLU gradient in one pass on the wasm backend.
 *
 * tfjs differentiates relu as mul(dy, cast(step(x), 'float32')): three kernels and two temporaries
 * per ReLU, each a full pass over the activation. In a batch-norm network (relu after every BN)
 * those passes were a visible share of a step (Step + Cast + Multiply: ~12% of a seed-CNN step).
 * `PipeReluGrad` computes dx = x > 0 ? dy : dy * 0 in one SIMD pass (wasm_simd.ts). The gradient of
 * `Relu` is re-registered to use it where the kernel exists (backend 'wasm') and to keep tfjs' own
 * formula everywhere else, so other backends are untouched. Bit-identical to the stock formula for
 * finite x, signed zeros included (tested against cpu in test/tf/kernels.test.ts); a NaN x gives a
 * zero instead of NaN.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedTensorInfoMap, Tensor, TensorInfo } from '@tensorflow/tfjs';
import { simdRoutines } from './wasm_simd.js';
import { heapF32, heapOffset, ours, type WasmBackend } from './wasm_util.js';

export const RELU_GRAD = 'PipeReluGrad';

function reluGrad(args: { inputs: NamedTensorInfoMap; backend: WasmBackend }): TensorInfo {
  const { backend } = args;
  const x = args.inputs['x'] as TensorInfo;
  const dy = args.inputs['dy'] as TensorInfo;
  const dxInfo = backend.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  const simd = simdRoutines(backend.wasm);
  const groups = simd ? n >> 2 : 0;
  if (simd && groups > 0) simd.reluGrad(heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dxInfo), groups);
  // Views after the allocation above (growth detaches older ones); the tail the SIMD pass left.
  const xs = heapF32(backend, x);
  const dys = heapF32(backend, dy);
  const dxs = heapF32(backend, dxInfo);
  for (let i = groups * 4; i < n; i++) dxs[i] = xs[i]! > 0 ? dys[i]! : dys[i]! * 0;
  return dxInfo;
}

export const reluGradKernels: KernelConfig[] = [{ kernelName: RELU_GRAD, backendName: 'wasm', kernelFunc: ours(reluGrad) }];

/** Relu's gradient through PipeReluGrad where the current backend has it, else tfjs' own formula. */
export function registerReluGradient(): void {
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [x] = saved as [Tensor];
      const g = dy as Tensor;
      return {
        x: () =>
          x.dtype === 'float32' && tf.getKernel(RELU_GRAD, tf.getBackend())
            ? (tf.engine().runKernel(RELU_GRAD, { x, dy: g }) as Tensor)
            : tf.mul(g, tf.cast(tf.step(x), 'float32')),
      };
    },
  });
}
