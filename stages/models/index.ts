/**
 * Model registry: name → definition. The `train` stage looks models up here.
 */
import { StageInputError } from '../types.js';
import { cnn } from './cnn.js';
import { ensembleModel } from './ensemble.js';
import { knn } from './knn.js';
import { logisticRegression } from './logistic-regression.js';
import { mlp } from './mlp.js';
import { randomForest } from './random-forest.js';
import { resnet } from './resnet.js';
import { svm } from './svm.js';
import type { ModelDefinition } from './types.js';

export const MODELS: Record<string, ModelDefinition> = {
  cnn,
  resnet,
  mlp,
  'logistic-regression': logisticRegression,
  svm,
  'random-forest': randomForest,
  knn,
};

/** An unknown `model:` name in a pipeline (user-facing). */
export class UnknownModelError extends StageInputError {
  constructor(
    readonly model: string,
    readonly known: readonly string[],
  ) {
    super(`unknown model "${model}"; known models: ${known.join(', ')}`);
  }
}

/** Loadable but not trainable: built by the `ensemble` stage, so it is not one of train's `model:` options. */
const ENSEMBLE = ensembleModel(getModel);

export function getModel(name: string): ModelDefinition {
  if (name === ENSEMBLE.name) return ENSEMBLE;
  const def = Object.hasOwn(MODELS, name) ? MODELS[name] : undefined;
  if (!def) throw new UnknownModelError(name, Object.keys(MODELS).sort());
  return def;
}
