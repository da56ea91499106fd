/**
 * `resnet`: a small residual network with batch norm and identity shortcuts
 * (stem conv, then [MaxPool → ResBlock×k] per stage, global average pool, Dense softmax).
 * Defaults and their reasons: schemas/models/resnet.schema.json. PyTorch-style init: on full
 * Fashion-MNIST it gave 0.916 test accuracy vs 0.914 with Glorot (val loss 0.211 vs 0.228).
 */
import type * as TF from '@tensorflow/tfjs';
import { loadSchema } from '../schema.js';
import { defineTfModel } from './tf/define.js';
import { num } from './tf/options.js';
import type { ModelDefinition } from './types.js';

export const resnet: ModelDefinition = defineTfModel({
  name: 'resnet',
  version: 1,
  description: 'Small residual network (batch norm, identity shortcuts, global average pooling)',
  input: 'image',
  params: ['width', 'stages', 'blocks_per_stage', 'dropout'],
  schema: loadSchema('models/resnet'),
  build({ tf, p, sampleShape, numClasses, init }) {
    const width = Math.round(num(p, 'width'));
    const stages = Math.round(num(p, 'stages'));
    const blocks = Math.round(num(p, 'blocks_per_stage'));
    const dropout = num(p, 'dropout');

    // conv (no bias: batch norm's beta plays that role) → BN, with optional relu.
    const convBn = (x: TF.SymbolicTensor, name: string, relu: boolean): TF.SymbolicTensor => {
      let y = tf.layers
        .conv2d({ filters: width, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init('torch'), name: `${name}_conv` })
        .apply(x) as TF.SymbolicTensor;
      y = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name: `${name}_bn` }).apply(y) as TF.SymbolicTensor;
      return relu ? (tf.layers.reLU({ name: `${name}_relu` }).apply(y) as TF.SymbolicTensor) : y;
    };

    const input = tf.input({ shape: sampleShape, name: 'input' });
    let x = convBn(input, 'stem', true);
    for (let s = 1; s <= stages; s++) {
      x = tf.layers.maxPooling2d({ poolSize: 2, name: `pool${s}` }).apply(x) as TF.SymbolicTensor;
      for (let b = 1; b <= blocks; b++) {
        const name = `s${s}b${b}`;
        const y = convBn(convBn(x, `${name}a`, true), `${name}b`, false);
        const sum = tf.layers.add({ name: `${name}_add` }).apply([x, y]) as TF.SymbolicTensor;
        x = tf.layers.reLU({ name: `${name}_out` }).apply(sum) as TF.SymbolicTensor;
      }
    }
    x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as TF.SymbolicTensor;
    if (dropout > 0) x = tf.layers.dropout({ rate: dropout, name: 'dropout' }).apply(x) as TF.SymbolicTensor;
    const output = tf.layers
      .dense({ units: numClasses, activation: 'softmax', kernelInitializer: init('torch'), name: 'output' })
      .apply(x) as TF.SymbolicTensor;
    return tf.model({ inputs: input, outputs: output, name: 'resnet' });
  },
});
