/**
 * Training options shared by the tfjs models, read from params that follow the shared
 * property names in `schemas/models/*.schema.json`, plus the learning-rate schedules.
 */
import { bool, num, str, type Resolved } from '../../params.js';

export { bool, intList, num, str, withDefaults, type Resolved } from '../../params.js';

export type Schedule = 'constant' | 'cosine' | 'step';

export interface TrainOptions {
  readonly epochs: number;
  /**
   * Horizon of the learning-rate schedule in epochs (schedule_epochs, resolved: 0 there means
   * `epochs`). Its own number so that a training stopped at epoch k of a planned N can be resumed
   * and continued to N with the same rates a straight N-epoch run uses.
   */
  readonly scheduleEpochs: number;
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
  /** Share of training images given a photo-like perturbation each time they are drawn (0 = off). */
  readonly augmentPhoto: number;
  /** Probability of random erasing per image draw (0 = off). */
  readonly augmentErase: number;
  /** Shards per batch, each normalised and differentiated on its own (data-parallel.ts). */
  readonly batchShards: number;
  /** Label-smoothing epsilon of the training loss (0 = one-hot targets). */
  readonly labelSmoothing: number;
  /** Decoupled weight decay per unit of learning rate (0 = off; weight-decay.ts). */
  readonly weightDecay: number;
  readonly seed: number;
}

/** Training params every tfjs model reads; defined once in schemas/models/training.schema.json. */
export const TRAINING_PARAMS = ['epochs', 'batch_size', 'optimizer', 'learning_rate', 'momentum', 'lr_schedule', 'schedule_epochs', 'lr_step_epochs', 'lr_step_gamma', 'early_stopping_patience', 'restore_best_weights', 'batch_shards', 'label_smoothing', 'weight_decay', 'seed'] as const;
/** Augmentation params, only in the image models' schemas. */
export const AUGMENT_PARAMS = ['augment_shift', 'augment_flip', 'augment_photo', 'augment_erase'] as const;
export type TrainingParam = (typeof TRAINING_PARAMS)[number];
export type AugmentParam = (typeof AUGMENT_PARAMS)[number];

export function trainOptions(p: Resolved<TrainingParam> | Resolved<TrainingParam | AugmentParam>): TrainOptions {
  // Flat models (mlp, logistic regression) have no augmentation params: augmentation is off.
  const augment = 'augment_shift' in p ? (p) : undefined;
  const epochs = Math.max(1, Math.round(num(p, 'epochs')));
  const horizon = Math.round(num(p, 'schedule_epochs'));
  return {
    epochs,
    // 0 (the schema default) means "as many as epochs": a default that depends on another param
    // cannot live in the schema, so the schema says 0 and this is where it resolves.
    scheduleEpochs: horizon > 0 ? horizon : epochs,
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
    augmentPhoto: augment ? num(augment, 'augment_photo') : 0,
    augmentErase: augment ? num(augment, 'augment_erase') : 0,
    batchShards: Math.max(1, Math.round(num(p, 'batch_shards'))),
    labelSmoothing: num(p, 'label_smoothing'),
    weightDecay: num(p, 'weight_decay'),
    seed: Math.round(num(p, 'seed')),
  };
}

/**
 * Why `schedule_epochs` is refused for `epochs`, or undefined: a horizon shorter than the training
 * would run cosine past its end (the rate climbing back up). 0 means "= epochs" and always fits.
 */
export function scheduleProblem(epochs: number, scheduleEpochs: number): string | undefined {
  if (scheduleEpochs === 0 || scheduleEpochs >= epochs) return undefined;
  return `schedule_epochs ${scheduleEpochs} is less than epochs ${epochs}: the learning-rate schedule must span every epoch; set schedule_epochs to at least ${epochs}, or leave it out (it then equals epochs)`;
}

/**
 * Learning rate for global step `step` (0-based). Cosine decays per batch from the base rate
 * to 0 over the schedule's horizon (`scheduleEpochs`, not `epochs`: a resumed training and a
 * straight one of the same horizon share every rate); step multiplies by gamma every `stepEpochs`
 * epochs, which needs no horizon.
 */
export function learningRateAt(o: TrainOptions, step: number, stepsPerEpoch: number): number {
  switch (o.schedule) {
    case 'cosine': {
      const total = o.scheduleEpochs * stepsPerEpoch;
      return o.learningRate * 0.5 * (1 + Math.cos((Math.PI * step) / total));
    }
    case 'step':
      return o.learningRate * o.stepGamma ** Math.floor(step / stepsPerEpoch / o.stepEpochs);
    default:
      return o.learningRate;
  }
}
