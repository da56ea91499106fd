/**
 * Grad-CAM (Selvaraju et al., 2017) for tfjs LayersModels, Sequential or functional.
 *
 * tfjs has no GradientTape that can watch an intermediate tensor, and a functional graph (residual
 * shortcuts) cannot always be cut into "input → layer" and "layer → output" halves. So the chosen
 * layer's `call` is wrapped for the duration of one batch to add a zero tensor δ to its output:
 * d(score)/dδ is exactly d(score)/dA, for any topology, in a single forward/backward pass.
 */
import type * as TF from '@tensorflow/tfjs';
import { StageInputError } from '../types.js';

type Layer = TF.LayersModel['layers'][number];
type Kwargs = Parameters<Layer['call']>[1];

/** Layers that make a model "convolutional" for Grad-CAM. */
const CONV_CLASSES = new Set(['Conv2D', 'SeparableConv2D', 'DepthwiseConv2D']);
/**
 * 4-D layers never picked automatically: pooling halves the resolution and dropout/noise are identity
 * at inference, so the layer before them explains the same thing on a finer grid.
 */
const SKIPPED_CLASSES = new Set([
  'InputLayer', 'MaxPooling2D', 'AveragePooling2D', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout',
]);

export class GradCamError extends StageInputError {}

/** The model has no 2-D convolution, so there is no spatial feature map to explain. */
export class NotConvolutionalError extends GradCamError {
  constructor(model: string) {
    super(`Grad-CAM needs a convolutional model, but ${model} has no Conv2D layers; explain a \`cnn\` or \`resnet\` train stage instead`);
  }
}

function singleShape(layer: Layer): readonly (number | null)[] | undefined {
  let shape: unknown;
  try {
    shape = layer.outputShape;
  } catch {
    return undefined; // shared layer with several inbound nodes: no single output
  }
  if (!Array.isArray(shape) || shape.some((d) => Array.isArray(d))) return undefined;
  return shape as (number | null)[];
}

/** Names of layers whose output is one 4-D feature map (for error messages and `layer:` choices). */
export function spatialLayers(model: TF.LayersModel): string[] {
  return model.layers.filter((l) => singleShape(l)?.length === 4 && l.getClassName() !== 'InputLayer').map((l) => l.name);
}

/**
 * The layer to explain: `name` if given, else the last layer with a 4-D output that comes after the
 * first convolution and before the network leaves the spatial domain (Flatten / global pooling).
 * `model.layers` is topologically ordered, so for a ResNet this is the ReLU after the last residual
 * Add (the block's output, as Keras examples use "conv5_block3_out"); for a CNN with batch norm it is
 * the ReLU after the last conv; pooling and dropout layers are skipped (see SKIPPED_CLASSES).
 */
export function pickLayer(model: TF.LayersModel, name?: string): Layer {
  if (!model.layers.some((l) => CONV_CLASSES.has(l.getClassName()))) throw new NotConvolutionalError(`model "${model.name}"`);
  if (name !== undefined) {
    const layer = model.layers.find((l) => l.name === name);
    if (!layer || singleShape(layer)?.length !== 4 || layer.getClassName() === 'InputLayer') {
      throw new GradCamError(
        `layer "${name}" ${layer ? 'does not output a single 4-D feature map' : 'is not in the model'}; ` +
          `choose one of: ${spatialLayers(model).join(', ')}`,
      );
    }
    return layer;
  }
  let seenConv = false;
  let chosen: Layer | undefined;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (CONV_CLASSES.has(cls)) seenConv = true;
    if (!seenConv) continue;
    const rank = singleShape(layer)?.length;
    if (rank !== undefined && rank !== 4) break; // left the spatial part (Flatten, GlobalAveragePooling2D, …)
    if (rank === 4 && !SKIPPED_CLASSES.has(cls)) chosen = layer;
  }
  if (!chosen) throw new NotConvolutionalError(`model "${model.name}"`);
  return chosen;
}

/** Which class each example's map explains: the model's own prediction, or given class indices. */
export type ClassChoice = 'predicted' | ArrayLike<number>;

export interface GradCamOptions {
  /** Layer name; default: `pickLayer`'s automatic choice. */
  readonly layer?: string;
  /** Heatmap [height, width]; default: the model's input size (28×28 here). */
  readonly size?: readonly [number, number];
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
  onBatch?(done: number, total: number): void;
}

export interface GradCamResult {
  readonly layer: string;
  /** Feature-map shape of the explained layer, without the batch axis: [h, w, channels]. */
  readonly featureShape: readonly number[];
  /** Row-major [N, height, width], each map scaled to [0,1] (all zeros when no positive evidence). */
  readonly heatmaps: Float32Array;
  /** Class index each map explains. */
  readonly classIndex: Int32Array;
  /** Row-major [N, numClasses] class probabilities from the same forward pass. */
  readonly probabilities: Float32Array;
  readonly numClasses: number;
  /** True when the score was the pre-softmax logit (Grad-CAM's y^c), false when the model output itself. */
  readonly usedLogits: boolean;
}

/**
 * The score to differentiate. A softmax probability saturates (p = 1 in float32 gives a zero
 * gradient, hence an empty map), so when the model ends in a Dense softmax/sigmoid layer the logits
 * are rebuilt from that layer's input and weights. Otherwise the model output is used as is.
 */
function scoreHead(tf: typeof TF, model: TF.LayersModel): {
  source: TF.SymbolicTensor;
  logits(t: TF.Tensor): TF.Tensor;
  probs(logits: TF.Tensor): TF.Tensor;
  usedLogits: boolean;
} {
  const out = model.layers[model.layers.length - 1]!;
  const activation = (out.getConfig() as { activation?: string }).activation;
  if (out.getClassName() === 'Dense' && (activation === 'softmax' || activation === 'sigmoid') && !Array.isArray(out.input)) {
    // Live variable tensors: read, never disposed here.
    const [kernel, bias] = out.getWeights();
    return {
      source: out.input,
      logits: (h) => (bias ? tf.add(tf.matMul(h as TF.Tensor2D, kernel as TF.Tensor2D), bias) : tf.matMul(h, kernel as TF.Tensor2D)),
      probs: (z) => (activation === 'softmax' ? tf.softmax(z) : tf.sigmoid(z)),
      usedLogits: true,
    };
  }
  const output = model.outputs[0]!;
  return { source: output, logits: (t) => t, probs: (t) => tf.clone(t), usedLogits: false };
}

/**
 * Grad-CAM heatmaps for images `x` (row-major, shape `[N, ...inputShape]`), in batches.
 * Each map: channel weights = spatial mean of d(score)/dA; cam = relu(Σ_k w_k A_k), bilinearly
 * upsampled (half-pixel centres) to the input size, divided by its maximum.
 */
export async function gradCam(
  tf: typeof TF,
  model: TF.LayersModel,
  x: Float32Array,
  shape: readonly number[],
  classes: ClassChoice,
  options: GradCamOptions = {},
): Promise<GradCamResult> {
  const layer = pickLayer(model, options.layer);
  const inputShape = model.inputs[0]!.shape;
  const [height, width] = options.size ?? [inputShape[1] ?? 28, inputShape[2] ?? 28];
  const pixels = height * width;
  const batchSize = Math.max(1, options.batchSize ?? 32);
  const n = shape[0] ?? 0;
  const sample = shape.slice(1);
  const rowSize = sample.reduce((a, b) => a * b, 1);
  if (x.length !== n * rowSize) throw new RangeError(`gradCam: ${x.length} values do not fit shape [${shape.join(',')}]`);
  if (classes !== 'predicted' && classes.length !== n) throw new RangeError(`gradCam: ${classes.length} class indices for ${n} images`);
  const featureShape = singleShape(layer)!.slice(1) as number[];
  const head = scoreHead(tf, model);
  // Input → [explained feature map, score source]: one pass yields both (works for Sequential too).
  const sub = tf.model({ inputs: model.inputs, outputs: [layer.output as TF.SymbolicTensor, head.source] });
  const numClasses = (model.outputs[0]!.shape[1] as number | null) ?? 1;

  const heatmaps = new Float32Array(n * pixels);
  const classIndex = new Int32Array(n);
  const probabilities = new Float32Array(n * numClasses);
  // eslint-disable-next-line @typescript-eslint/unbound-method -- saved to be restored on the same layer
  const originalCall = layer.call;
  for (let start = 0; start < n; start += batchSize) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
    const b = Math.min(batchSize, n - start);
    let injected: TF.Tensor | undefined;
    let activations: TF.Tensor | undefined;
    let probs: TF.Tensor | undefined;
    const xs = tf.tensor(x.subarray(start * rowSize, (start + b) * rowSize), [b, ...sample]);
    const delta = tf.zeros([b, ...featureShape]);
    layer.call = function patched(this: Layer, inputs: TF.Tensor | TF.Tensor[], kwargs: Kwargs) {
      const out = originalCall.call(this, inputs, kwargs) as TF.Tensor;
      activations = tf.keep(out);
      return tf.add(out, injected!);
    };
    try {
      const grads = tf.grad((d: TF.Tensor) => {
        injected = d;
        const [, source] = sub.apply(xs, { training: false }) as TF.Tensor[];
        const logits = head.logits(source!);
        probs = tf.keep(head.probs(logits));
        // The class choice is a constant mask (argMax has no gradient): for "predicted" the logits
        // are read synchronously mid-pass, which saves a separate forward pass.
        const chosen = new Int32Array(b);
        const values = classes === 'predicted' ? logits.dataSync() : undefined;
        for (let i = 0; i < b; i++) {
          if (values) {
            let best = 0;
            for (let c = 1; c < numClasses; c++) if (values[i * numClasses + c]! > values[i * numClasses + best]!) best = c;
            chosen[i] = best;
          } else chosen[i] = (classes as ArrayLike<number>)[start + i]!;
        }
        classIndex.set(chosen, start);
        const mask = tf.oneHot(tf.tensor1d(chosen, 'int32'), numClasses);
        // Examples are independent at inference, so the gradient of the sum is each one's own gradient.
        return tf.sum(tf.mul(logits, mask));
      })(delta);
      const maps = tf.tidy(() => {
        const weights = tf.mean(grads, [1, 2], true); // [b,1,1,k]
        const cam = tf.relu(tf.sum(tf.mul(weights, activations!), -1, true)); // [b,h,w,1]
        const up = tf.image.resizeBilinear(cam as TF.Tensor4D, [height, width], false, true);
        const peak = tf.max(up, [1, 2, 3], true);
        return tf.divNoNan(up, peak);
      });
      heatmaps.set(await maps.data(), start * pixels);
      probabilities.set(await probs!.data(), start * numClasses);
      tf.dispose([grads, maps]);
    } finally {
      layer.call = originalCall;
      tf.dispose([xs, delta, activations, probs].filter((t): t is TF.Tensor => t !== undefined));
    }
    options.onBatch?.(start + b, n);
  }
  // `sub` is not disposed: it shares the model's layers, and disposing it would release their weights.
  return { layer: layer.name, featureShape, heatmaps, classIndex, probabilities, numClasses, usedLogits: head.usedLogits };
}

/** Jet colour map (blue → cyan → yellow → red) for v in [0,1], as 0..255 RGB. */
export function jet(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  const channel = (centre: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - centre))));
  return [channel(3), channel(2), channel(1)];
}

/** Heatmap [h*w] in [0,1] → RGB uint8 [h*w*3] through the jet map. */
export function colorize(heatmap: ArrayLike<number>): Uint8Array {
  const rgb = new Uint8Array(heatmap.length * 3);
  for (let i = 0; i < heatmap.length; i++) rgb.set(jet(heatmap[i]!), i * 3);
  return rgb;
}

/**
 * Jet-coloured heatmap blended over the grayscale image (both [h*w], image in [0,1]) as RGB uint8.
 * `alpha` is the heatmap's weight; the image stays readable underneath.
 */
export function overlay(image: ArrayLike<number>, heatmap: ArrayLike<number>, alpha = 0.5): Uint8Array {
  const rgb = new Uint8Array(image.length * 3);
  for (let i = 0; i < image.length; i++) {
    const gray = 255 * Math.min(1, Math.max(0, image[i]!));
    const colour = jet(heatmap[i]!);
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round((1 - alpha) * gray + alpha * colour[c]!);
  }
  return rgb;
}
