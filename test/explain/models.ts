/**
 * Hand-weighted conv models with a known answer on `synthetic` images. Channel A fires only inside
 * a filled square (3×3 mean above 0.7; an outline's window holds at most 5 bright pixels of 9),
 * channel B on any bright pixel. Class 1's score reads channel A only, class 0's reads channel B,
 * so Grad-CAM for class 1 must light the filled square and ignore the outline.
 */
import type * as TF from '@tensorflow/tfjs';

function detectorKernel(tf: typeof TF): [TF.Tensor, TF.Tensor] {
  const k = new Float32Array(3 * 3 * 1 * 2);
  for (let p = 0; p < 9; p++) {
    k[p * 2] = 1 / 9; // channel A: mean of the window
    k[p * 2 + 1] = p === 4 ? 1 : 0; // channel B: the centre pixel
  }
  return [tf.tensor4d(k, [3, 3, 1, 2]), tf.tensor1d([-0.7, -0.5])];
}

/** conv1 (detectors) → pool → conv2 (1×1 identity) → pool → flatten → dense softmax. */
export function handSequential(tf: typeof TF): TF.Sequential {
  const m = tf.sequential({ name: 'hand_seq' });
  m.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }));
  m.add(tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu', name: 'conv2' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'output' }));
  m.getLayer('conv1').setWeights(detectorKernel(tf));
  m.getLayer('conv2').setWeights([tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]), tf.zeros([2])]);
  const dense = new Float32Array(49 * 2 * 2);
  for (let i = 0; i < 49 * 2; i++) {
    const channel = i % 2;
    dense[i * 2] = channel === 1 ? 0.05 : 0; // class 0 ← any bright pixel
    dense[i * 2 + 1] = channel === 0 ? 1 : 0; // class 1 ← filled square
  }
  m.getLayer('output').setWeights([tf.tensor2d(dense, [98, 2]), tf.tensor1d([0.5, 0])]);
  return m;
}

/** stem conv → BN → ReLU → [1×1 conv → BN] + shortcut → Add → ReLU → max pool → GAP → dense. */
export function handResidual(tf: typeof TF): TF.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: 'input' });
  const bn = (name: string) => tf.layers.batchNormalization({ name });
  let x = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'stem_conv' }).apply(input) as TF.SymbolicTensor;
  x = bn('stem_bn').apply(x) as TF.SymbolicTensor;
  x = tf.layers.reLU({ name: 'stem_relu' }).apply(x) as TF.SymbolicTensor;
  let y = tf.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, name: 'branch_conv' }).apply(x) as TF.SymbolicTensor;
  y = bn('branch_bn').apply(y) as TF.SymbolicTensor;
  let z = tf.layers.add({ name: 'block_add' }).apply([x, y]) as TF.SymbolicTensor;
  z = tf.layers.reLU({ name: 'block_out' }).apply(z) as TF.SymbolicTensor;
  z = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(z) as TF.SymbolicTensor;
  z = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(z) as TF.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'output' }).apply(z) as TF.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'hand_res' });
  model.getLayer('stem_conv').setWeights(detectorKernel(tf));
  // Batch norm as (almost) identity in inference mode: mean 0, variance 1, gamma 1, beta 0.
  for (const name of ['stem_bn', 'branch_bn']) {
    model.getLayer(name).setWeights([tf.ones([2]), tf.zeros([2]), tf.zeros([2]), tf.ones([2])]);
  }
  model.getLayer('branch_conv').setWeights([tf.tensor4d([0.5, 0, 0, 0.5], [1, 1, 2, 2])]);
  model.getLayer('output').setWeights([tf.tensor2d([0, 100, 2, 0], [2, 2]), tf.tensor1d([0.3, 0])]);
  return model;
}
