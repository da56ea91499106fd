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
 * same single division by n, whether it is done before or after the broadcast. Other backends keep
 * tfjs' own gradient, captured before ours replaces it. Tested in test/tf/kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs';

/** Marks our gradient config, so registering twice keeps tfjs' own one as the fallback. */
const OUR_GRADIENT = Symbol.for('pipe.meanGradient');
let stockGradient: GradConfig | undefined;

export function registerMeanGradient(): void {
  const current = tf.getGradient(tf.Mean) as GradConfig | undefined;
  if (current && OUR_GRADIENT in current) return;
  if (!current) throw new Error('tfjs registers no Mean gradient to replace');
  stockGradient = current;
  const config: GradConfig = {
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const [x] = saved as [Tensor];
      if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32') return stockGradient!.gradFunc(dy, saved, attrs);
      const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x.shape);
      const reduceSize = tf.util.sizeFromShape(axes.map((a) => x.shape[a]!));
      const expandedShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      return { x: () => tf.tidy(() => tf.broadcastTo(tf.div(tf.reshape(dy as Tensor, expandedShape), reduceSize), x.shape)) };
    },
  };
  Object.defineProperty(config, OUR_GRADIENT, { value: true });
  tf.registerGradient(config);
}
