/**
 * `cnn`: the seed convolutional network (Conv32-Pool-Conv64-Pool-Conv128-Dense128-Dense10),
 * optionally with batch norm and dropout. Defaults and their reasons: schemas/models/cnn.schema.json.
 */
import { loadSchema } from '../schema.js';
import { defineTfModel } from './tf/define.js';
import { bool, intList, num } from './tf/options.js';
import type { ModelDefinition } from './types.js';

export const cnn: ModelDefinition = defineTfModel({
  name: 'cnn',
  version: 1,
  description: 'Convolutional network (seed architecture, batch norm + dropout by default)',
  input: 'image',
  params: ['filters', 'dense_units', 'batch_norm', 'dropout'],
  schema: loadSchema('models/cnn'),
  build({ tf, p, sampleShape, numClasses, init }) {
    const batchNorm = bool(p, 'batch_norm');
    const dropout = num(p, 'dropout');
    const filters = intList(p, 'filters');
    const model = tf.sequential({ name: 'cnn' });
    filters.forEach((f, i) => {
      const n = i + 1;
      if (i > 0) model.add(tf.layers.maxPooling2d({ poolSize: 2, name: `pool${i}` }));
      model.add(
        tf.layers.conv2d({
          ...(i === 0 ? { inputShape: sampleShape } : {}),
          filters: f,
          kernelSize: 3,
          // Batch norm's beta replaces the conv bias.
          useBias: !batchNorm,
          activation: batchNorm ? 'linear' : 'relu',
          kernelInitializer: init(),
          name: `conv${n}`,
        }),
      );
      if (batchNorm) {
        // Momentum 0.9 = PyTorch's 0.1, as in the reference runs (Keras' 0.99 adapts slower).
        model.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name: `bn${n}` }));
        model.add(tf.layers.activation({ activation: 'relu', name: `relu${n}` }));
      }
    });
    model.add(tf.layers.flatten({ name: 'flatten' }));
    model.add(tf.layers.dense({ units: Math.round(num(p, 'dense_units')), activation: 'relu', kernelInitializer: init(), name: 'dense' }));
    if (dropout > 0) model.add(tf.layers.dropout({ rate: dropout, name: 'dropout' }));
    model.add(tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: init(), name: 'output' }));
    return model;
  },
});
