/**
 * Training options shared by the tfjs models, read from params that follow the shared
 * property names in `schemas/models/*.schema.json`, plus the learning-rate schedules.
 */
import type { JsonSchema, JsonValue, Params } from '../../types.js';

export type Schedule = 'constant' | 'cosine' | 'step';

export interface TrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: 'adam' | 'sgd';
  readonly learningRate: number;
  readonly momentum: number;
  readonly schedule: Schedule;
  readonly stepEpochs: number;
  readonly stepGamma: number;
  /** Epochs without val-loss improvement before stopping; 0 disables early stopping. */
  readonly patience: number;
  readonly restoreBest: boolean;
  /** Max random shift in pixels (image inputs only); 0 disables. */
  readonly augmentShift: number;
  readonly augmentFlip: boolean;
  readonly seed: number;
}

/** Training params every tfjs model reads; defined once in schemas/models/training.schema.json. */
export const TRAINING_PARAMS = ['epochs', 'batch_size', 'optimizer', 'learning_rate', 'momentum', 'lr_schedule', 'lr_step_epochs', 'lr_step_gamma', 'early_stopping_patience', 'restore_best_weights', 'seed'] as const;
/** Augmentation params, only in the image models' schemas. */
export const AUGMENT_PARAMS = ['augment_shift', 'augment_flip'] as const;
export type TrainingParam = (typeof TRAINING_PARAMS)[number];
export type AugmentParam = (typeof AUGMENT_PARAMS)[number];

/**
 * Params with every key of K present. Only `withDefaults` makes one, so a reader given a key the
 * model did not declare (a misspelling) is a type error, and no reader needs a fallback value.
 */
export type Resolved<K extends string> = Readonly<Record<K, JsonValue>>;

/**
 * Fills missing params from the schema's `default`s, the only place defaults live. The runner
 * already did this (ajv useDefaults); doing it again serves direct callers (tests, benches).
 * `keys` are the params the code reads: each must be given or defaulted by the schema.
 */
export function withDefaults<K extends string>(schema: JsonSchema, params: Params, keys: readonly K[]): Resolved<K> {
  const out: Record<string, JsonValue> = {};
  const props = (schema['properties'] ?? {}) as Record<string, { default?: JsonValue }>;
  for (const [key, prop] of Object.entries(props)) {
    if (prop.default !== undefined) out[key] = prop.default;
  }
  for (const [key, value] of Object.entries(params)) out[key] = value;
  const missing = keys.filter((key) => !(key in out));
  if (missing.length) throw new Error(`params ${missing.join(', ')} are read by the code but have no default in the schema`);
  return out as Resolved<K>;
}

// The readers below check types only as a guard: the schema already validated every value, so a
// mismatch is a bug in pipe (an internal error), never a user mistake.
function wrong(key: string, value: JsonValue | undefined, expected: string): Error {
  return new Error(`param ${key} is ${JSON.stringify(value)}, expected ${expected} (the schema should have ensured it)`);
}

export function num<K extends string>(p: Resolved<K>, key: NoInfer<K>): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw wrong(key, v, 'a number');
  return v;
}

export function bool<K extends string>(p: Resolved<K>, key: NoInfer<K>): boolean {
  const v = p[key];
  if (typeof v !== 'boolean') throw wrong(key, v, 'a boolean');
  return v;
}

export function str<T extends string, K extends string>(p: Resolved<K>, key: NoInfer<K>, allowed: readonly T[]): T {
  const v = p[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw wrong(key, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

export function intList<K extends string>(p: Resolved<K>, key: NoInfer<K>): number[] {
  const v = p[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && x >= 1)) throw wrong(key, v, 'a list of positive numbers');
  return (v as number[]).map((x) => Math.round(x));
}

export function trainOptions(p: Resolved<TrainingParam> | Resolved<TrainingParam | AugmentParam>): TrainOptions {
  // Flat models (mlp, logistic regression) have no augmentation params: augmentation is off.
  const augment = 'augment_shift' in p ? (p) : undefined;
  return {
    epochs: Math.max(1, Math.round(num(p, 'epochs'))),
    batchSize: Math.max(1, Math.round(num(p, 'batch_size'))),
    optimizer: str(p, 'optimizer', ['adam', 'sgd'] as const),
    learningRate: num(p, 'learning_rate'),
    momentum: num(p, 'momentum'),
    schedule: str(p, 'lr_schedule', ['constant', 'cosine', 'step'] as const),
    stepEpochs: Math.max(1, Math.round(num(p, 'lr_step_epochs'))),
    stepGamma: num(p, 'lr_step_gamma'),
    patience: Math.max(0, Math.round(num(p, 'early_stopping_patience'))),
    restoreBest: bool(p, 'restore_best_weights'),
    augmentShift: augment ? Math.max(0, Math.round(num(augment, 'augment_shift'))) : 0,
    augmentFlip: augment ? bool(augment, 'augment_flip') : false,
    seed: Math.round(num(p, 'seed')),
  };
}

/**
 * Learning rate for global step `step` (0-based). Cosine decays per batch from the base rate
 * to 0 over all planned epochs; step multiplies by gamma every `stepEpochs` epochs.
 */
export function learningRateAt(o: TrainOptions, step: number, stepsPerEpoch: number): number {
  switch (o.schedule) {
    case 'cosine': {
      const total = o.epochs * stepsPerEpoch;
      return o.learningRate * 0.5 * (1 + Math.cos((Math.PI * step) / total));
    }
    case 'step':
      return o.learningRate * o.stepGamma ** Math.floor(step / stepsPerEpoch / o.stepEpochs);
    default:
      return o.learningRate;
  }
}
