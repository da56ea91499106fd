/**
 * `logistic-regression`: multinomial (softmax) regression with an L2 weight penalty,
 * trained with the shared mini-batch loop. Defaults: schemas/models/logistic-regression.schema.json.
 */
import { loadSchema } from '../schema.js';
import { defineTfModel } from './tf/define.js';
import { num } from './tf/options.js';
import type { ModelDefinition } from './types.js';

export const logisticRegression: ModelDefinition = defineTfModel({
  name: 'logistic-regression',
  version: 1,
  description: 'Softmax (multinomial logistic) regression with L2 regularisation',
  input: 'flat',
  params: ['l2'],
  schema: loadSchema('models/logistic-regression'),
  build({ tf, p, sampleShape, numClasses, init }) {
    const l2 = num(p, 'l2');
    const model = tf.sequential({ name: 'logistic_regression' });
    model.add(
      tf.layers.dense({
        inputShape: sampleShape,
        units: numClasses,
        activation: 'softmax',
        kernelInitializer: init(),
        // The training loop adds model.calculateLosses() to the cross-entropy.
        ...(l2 > 0 ? { kernelRegularizer: tf.regularizers.l2({ l2 }) } : {}),
        name: 'output',
      }),
    );
    return model;
  },
});
