/**
 * Kernels that make (and keep) training fast on the tfjs wasm backend. Each replaces or adds one kernel
 * for backend 'wasm' only; the reasons are in the files named.
 *
 * - Conv2DBackpropFilter (missing on wasm: conv training threw) and Conv2DBackpropInput (stock one is a
 *   scalar loop): XNNPACK convolutions or GEMMs, conv_backprop.ts.
 * - MaxPoolGrad: single pass, SIMD for 2x2/stride 2, pool_grad.ts.
 * - BatchMatMul: transposed products steered onto XNNPACK, matmul.ts.
 * - FusedBatchNorm: one SIMD scale-and-shift pass, batch_norm.ts.
 * - Identity and same-dtype Cast (no copy), Tile (memmove), Sum/Mean over leading axes (SIMD): reduce_tile.ts.
 * - Mean's gradient: the quotient tiled, instead of a multiply by a JavaScript-filled tensor of ones,
 *   bit-identical to it, mean_grad.ts.
 * - PipeReluGrad (new) and Relu's gradient through it: one pass instead of Step + Cast + Multiply, relu_grad.ts.
 * - PipeBatchNormGrad (new) and FusedBatchNorm's gradient through it: one pass instead of tfjs' composite
 *   of Sub/Tile/Mul/Sum, bit-identical to it, batch_norm_grad.ts.
 */
import '@tensorflow/tfjs-backend-wasm'; // registers the stock wasm kernels, which ours delegate to
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs';
import { batchNormKernels } from './batch_norm.js';
import { batchNormGradKernels, registerBatchNormGradient } from './batch_norm_grad.js';
import { convBackpropKernels } from './conv_backprop.js';
import { matMulKernels } from './matmul.js';
import { registerMeanGradient } from './mean_grad.js';
import { poolGradKernels } from './pool_grad.js';
import { reduceTileKernels } from './reduce_tile.js';
import { registerReluGradient, reluGradKernels } from './relu_grad.js';
import { OUR_KERNEL, rememberStockKernel, stockKernel } from './wasm_util.js';

export const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [
  ...convBackpropKernels, ...poolGradKernels, ...matMulKernels, ...reduceTileKernels, ...batchNormKernels, ...reluGradKernels, ...batchNormGradKernels,
];

/**
 * Registers the kernels above for backend 'wasm'. Idempotent: kernels already ours are left alone
 * (even if registered by another copy of this module), stock ones are overridden once.
 * Works before or after the wasm backend is initialised: an override keeps the stock kernel's setupFunc,
 * which the engine runs at backend start-up and the stock kernelFunc we delegate to depends on.
 */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current && OUR_KERNEL in current.kernelFunc) continue;
    let setupFunc = config.setupFunc;
    if (current) {
      rememberStockKernel(config.kernelName);
      setupFunc = stockKernel(config.kernelName).setupFunc;
      tf.unregisterKernel(config.kernelName, 'wasm'); // registerKernel would warn about the duplicate
    }
    tf.registerKernel({ ...config, ...(setupFunc !== undefined ? { setupFunc } : {}) });
  }
  registerReluGradient();
  registerBatchNormGradient();
  registerMeanGradient();
}
