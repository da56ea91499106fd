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

/**
 * Fills missing params from the schema's `default`s. The runner already does this (ajv
 * useDefaults); doing it again keeps direct callers (tests, benches) from crashing.
 */
export function withDefaults(schema: JsonSchema, params: Params): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  const props = (schema['properties'] ?? {}) as Record<string, { default?: JsonValue }>;
  for (const [key, prop] of Object.entries(props)) {
    if (prop.default !== undefined) out[key] = prop.default;
  }
  for (const [key, value] of Object.entries(params)) out[key] = value;
  return out;
}

export function num(p: Record<string, JsonValue>, key: string, fallback: number): number {
  const v = p[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

export function bool(p: Record<string, JsonValue>, key: string, fallback: boolean): boolean {
  const v = p[key];
  return typeof v === 'boolean' ? v : fallback;
}

export function str<T extends string>(p: Record<string, JsonValue>, key: string, allowed: readonly T[], fallback: T): T {
  const v = p[key];
  return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
}

export function intList(p: Record<string, JsonValue>, key: string, fallback: readonly number[]): number[] {
  const v = p[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && x >= 1)) return [...fallback];
  return (v as number[]).map((x) => Math.round(x));
}

export function trainOptions(p: Record<string, JsonValue>): TrainOptions {
  return {
    epochs: Math.max(1, Math.round(num(p, 'epochs', 10))),
    batchSize: Math.max(1, Math.round(num(p, 'batch_size', 128))),
    optimizer: str(p, 'optimizer', ['adam', 'sgd'] as const, 'adam'),
    learningRate: num(p, 'learning_rate', 1e-3),
    momentum: num(p, 'momentum', 0.9),
    schedule: str(p, 'lr_schedule', ['constant', 'cosine', 'step'] as const, 'constant'),
    stepEpochs: Math.max(1, Math.round(num(p, 'lr_step_epochs', 5))),
    stepGamma: num(p, 'lr_step_gamma', 0.1),
    patience: Math.max(0, Math.round(num(p, 'early_stopping_patience', 0))),
    restoreBest: bool(p, 'restore_best_weights', true),
    augmentShift: Math.max(0, Math.round(num(p, 'augment_shift', 0))),
    augmentFlip: bool(p, 'augment_flip', false),
    seed: Math.round(num(p, 'seed', 0)),
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
