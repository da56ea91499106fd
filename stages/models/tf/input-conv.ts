/**
 * A training step that does not differentiate the images themselves.
 *
 * A convolution without bias or activation (conv → batch norm → ReLU, as in `cnn` and `resnet`) goes
 * through tfjs' fused conv2d, whose gradient is a customGrad that computes every input's gradient
 * eagerly, including dL/dx of the model's input images, which nothing reads. On wasm that gradient of a
 * 1-channel 28×28 input (a GEMM plus a col2im pass) was 3–4% of a training step of either network
 * (profiled in a real `train` stage, 2026-12-06). The plain conv2d op gets the same XNNPACK
 * convolution forward and the same Conv2DBackpropFilter backward, but its gradient is lazy: tfjs only
 * computes the gradients that lead to a variable. So the convolutions that read the model's input
 * directly are switched to it. Bit-identical (tested in test/models/data-parallel.test.ts); the layer
 * itself, its weights and the saved topology are unchanged, since only this instance's call is replaced.
 */
import type * as TF from '@tensorflow/tfjs';

/** The Conv2D layer fields the plain call needs (tfjs-layers keeps them protected). */
interface Conv2DFields {
  readonly useBias: boolean;
  readonly activation: { getClassName(): string };
  readonly kernel: { read(): TF.Tensor4D };
  readonly strides: [number, number];
  readonly padding: 'valid' | 'same';
  readonly dilationRate: [number, number];
  readonly dataFormat: string;
  readonly inboundNodes: Array<{ inboundLayers: Array<{ getClassName(): string }> }>;
}

/** Layers already switched (ShardComputer may be built twice on one model when helper threads fail to start). */
const switchedLayers = new WeakSet();

/**
 * Switches the input convolutions of `model` to the plain op; returns how many it switched. Only on wasm,
 * where bit-identity is tested; other backends keep tfjs' fused path.
 */
export function differentiateInputConvsLazily(tf: typeof TF, model: TF.LayersModel): number {
  if (tf.getBackend() !== 'wasm') return 0;
  let switched = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Conv2D' || switchedLayers.has(layer)) continue;
    const conv = layer as unknown as Conv2DFields;
    const readsInput = conv.inboundNodes.length === 1 && conv.inboundNodes[0]!.inboundLayers.every((l) => l.getClassName() === 'InputLayer');
    const fused = !conv.useBias && conv.activation.getClassName() === 'linear' && conv.dataFormat === 'channelsLast';
    if (!readsInput || !fused) continue;
    const original = layer.call.bind(layer);
    layer.call = (inputs: TF.Tensor | TF.Tensor[], kwargs: Record<string, unknown>) => {
      // Anything but one tensor goes to tfjs' own call, which rejects it as before.
      if (Array.isArray(inputs) && inputs.length !== 1) return original(inputs, kwargs);
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as TF.Tensor4D;
      return tf.tidy(() => tf.conv2d(x, conv.kernel.read(), conv.strides, conv.padding, 'NHWC', conv.dilationRate));
    };
    switchedLayers.add(layer);
    switched++;
  }
  return switched;
}
