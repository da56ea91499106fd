/**
 * Mean's gradient without a tensor of ones on the wasm backend.
 *
 * tfjs differentiates Mean as div(mul(reshape(dy), ones(x.shape)), n). `ones` is filled element by
 * element in JavaScript and then copied into the wasm heap, and the Multiply and the RealDiv are two
 * more full passes. Batch-norm moments take two Means of every [N,H,W,C] activation, so in the
 * batch-norm CNN this was ~8% of a training step (profiled inside a real `train` stage, 2026-12-06).
 * Here the division is done on the reduced tensor and the quotients are tiled to x's shape (the
 * memmove Tile of reduce_tile.ts): one pass, no JavaScript fill.
 *
 * Bit-identical to tfjs' formula: dy * 1 is dy exactly in IEEE float, and each element then sees the
 * same single division by n, whether it is done before or after the broadcast. Other backends (and
 * empty or non-float tensors) keep tfjs' own gradient. Tested in test/tf/kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, Tensor } from '@tensorflow/tfjs';
import { overrideGradient, stockGradient } from './wasm_util.js';

export function registerMeanGradient(): void {
  overrideGradient(tf.Mean, ['x'], (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved as [Tensor];
    // An empty x would tile to the wrong shape (a repeat count of 0); tfjs' formula handles it.
    if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || x.size === 0) return stockGradient(tf.Mean).gradFunc(dy, saved, attrs);
    const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x.shape);
    const reduceSize = tf.util.sizeFromShape(axes.map((a) => x.shape[a]!));
    const expandedShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    // The engine runs gradient functions inside tidy, so the intermediate quotient is freed.
    return { x: () => tf.broadcastTo(tf.div(tf.reshape(dy as Tensor, expandedShape), reduceSize), x.shape) };
  });
}
