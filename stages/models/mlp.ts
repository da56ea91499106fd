/**
 * `mlp`: dense hidden layers (+ dropout) on flat [N,D] input, softmax output.
 * Defaults and their reasons: schemas/models/mlp.schema.json.
 */
import type * as TF from '@tensorflow/tfjs';
import { loadSchema } from '../schema.js';
import { defineTfModel } from './tf/define.js';
import { intList, num, str } from './tf/options.js';
import type { ModelDefinition } from './types.js';

const ACTIVATIONS = ['relu', 'elu', 'selu', 'tanh', 'sigmoid', 'swish'] as const;

export const mlp: ModelDefinition = defineTfModel({
  name: 'mlp',
  version: 1,
  description: 'Multi-layer perceptron (dense hidden layers with dropout)',
  input: 'flat',
  params: ['hidden_layers', 'activation', 'dropout'],
  schema: loadSchema('models/mlp'),
  build({ tf, p, sampleShape, numClasses, init }) {
    const hidden = intList(p, 'hidden_layers');
    const activation = str(p, 'activation', ACTIVATIONS) as Parameters<typeof TF.layers.dense>[0]['activation'];
    const dropout = num(p, 'dropout');
    const model = tf.sequential({ name: 'mlp' });
    hidden.forEach((units, i) => {
      const n = i + 1;
      model.add(tf.layers.dense({ ...(i === 0 ? { inputShape: sampleShape } : {}), units, ...(activation !== undefined ? { activation } : {}), kernelInitializer: init(), name: `dense${n}` }));
      if (dropout > 0) model.add(tf.layers.dropout({ rate: dropout, name: `dropout${n}` }));
    });
    model.add(
      tf.layers.dense({
        ...(hidden.length === 0 ? { inputShape: sampleShape } : {}),
        units: numClasses,
        activation: 'softmax',
        kernelInitializer: init(),
        name: 'output',
      }),
    );
    return model;
  },
});
