/**
 * Turns an architecture builder into a full `ModelDefinition`: backend choice, seeded build,
 * the shared training loop, and save/load. Each model file only describes its layers.
 */
import type * as TF from '@tensorflow/tfjs';
import { initTf, type BackendName } from '../../tf/backend.js';
import type { JsonSchema, JsonValue, ParamProblem, Params, ResumePoint } from '../../types.js';
import type { Dataset, FitContext, ModelDefinition, TrainedModel } from '../types.js';
import { trainLoop } from './loop.js';
import { AUGMENT_PARAMS, num, scheduleProblem, TRAINING_PARAMS, trainOptions, withDefaults, type AugmentParam, type Resolved, type TrainingParam } from './options.js';
import { readCheckpoint, type LoopState } from './checkpoint.js';
import { Rng } from './prng.js';
import { countParams, loadTfModel, TfTrainedModel, type TfModelMeta } from './trained.js';
import { StageInputError } from '../../types.js';

export interface BuildArgs<K extends string> {
  readonly tf: typeof TF;
  /** The model's own params (`TfModelSpec.params`), schema defaults filled in. */
  readonly p: Resolved<K>;
  readonly sampleShape: number[];
  readonly numClasses: number;
  /**
   * Seeded kernel initializer: call once per layer so each layer gets its own seed.
   * 'glorot' is Keras' default; 'torch' is PyTorch's default for conv/linear layers
   * (kaiming_uniform with a=sqrt(5), i.e. U(±1/sqrt(fan_in))).
   */
  readonly init: (kind?: 'glorot' | 'torch') => ReturnType<typeof TF.initializers.glorotUniform>;
}

export interface TfModelSpec<K extends string> {
  readonly name: string;
  /** The model's own params that `build` reads (the training params come on top). */
  readonly params: readonly K[];
  readonly version: number;
  readonly description: string;
  readonly input: 'image' | 'flat';
  readonly schema: JsonSchema;
  build(args: BuildArgs<K>): TF.LayersModel;
}

export function defineTfModel<K extends string>(spec: TfModelSpec<K>): ModelDefinition {
  const image = spec.input === 'image';
  const keys: readonly (K | TrainingParam | AugmentParam)[] = [...TRAINING_PARAMS, ...(image ? AUGMENT_PARAMS : []), ...spec.params];
  return {
    name: spec.name,
    params: keys,
    version: spec.version,
    description: spec.description,
    input: spec.input,
    schema: spec.schema,
    // One thread per batch shard (data-parallel.ts); more would have nothing to compute.
    // The loop follows the grant between steps, so it can grow into idle cores.
    threads: (params) => ({ max: num(withDefaults(spec.schema, params, ['batch_shards']), 'batch_shards'), resizable: true }),
    checkParams: (params) => scheduleProblems(withDefaults(spec.schema, params, ['epochs', 'schedule_epochs'])),
    resumePoint,

    async fit(train: Dataset, validation: Dataset | undefined, params: Params, ctx: FitContext): Promise<TrainedModel> {
      for (const [label, d] of [['train', train], ['validation', validation]] as const) {
        if (d && d.x.length !== d.shape.reduce((a, b) => a * b, 1)) throw new StageInputError(`${spec.name}: ${label} x does not match its shape`);
        if (d && d.y.length !== d.shape[0]) throw new StageInputError(`${spec.name}: ${label} has ${d.shape[0]} rows but ${d.y.length} labels`);
      }
      const p = withDefaults(spec.schema, params, keys);
      const [problem] = scheduleProblems(p);
      if (problem) throw new StageInputError(`${spec.name}: ${problem.message}`);
      const o = trainOptions(p);
      // No schedule exceeds the base rate, so this one check keeps every step's decay factor positive.
      if (o.learningRate * o.weightDecay >= 1) {
        throw new StageInputError(
          `${spec.name}: weight_decay ${o.weightDecay} × learning_rate ${o.learningRate} is ${o.learningRate * o.weightDecay}, so each step would multiply the weights by 1 − lr·weight_decay ≤ 0; keep the product well below 1 (e.g. weight_decay 0.4 at learning_rate 0.001)`,
        );
      }
      const { tf, backend } = await initTf(ctx.backend as BackendName | undefined);
      const rng = new Rng(o.seed);
      const sampleShape = train.shape.slice(1);
      const model = spec.build({
        tf,
        p,
        sampleShape,
        numClasses: train.numClasses,
        init: (kind = 'glorot') =>
          kind === 'torch'
            ? tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: rng.seed() })
            : tf.initializers.glorotUniform({ seed: rng.seed() }),
      });
      try {
        const t0 = performance.now();
        const from = ctx.resume ? await usableCheckpoint(ctx.resume, ctx) : undefined;
        const result = await trainLoop(tf, model, train, validation, o, ctx, from);
        const seconds = (performance.now() - t0) / 1000;
        const epochs = result.epochsTrained;
        const info: Record<string, JsonValue> = {
          parameters: countParams(model),
          stopped_early: result.stoppedEarly,
        };
        const timings: Record<string, JsonValue> = {
          // Pure loop throughput (validation passes included), for comparing backends.
          loop_images_per_s: Math.round((train.y.length * epochs) / seconds),
          epoch_s: [...result.epochSeconds],
          // Threads that shared each step's shards: speed only, the weights are the same for any.
          threads: result.threads,
          // How the fit ran, not what it made: a resumed fit's files equal a straight one's.
          epochs_trained: result.epochsTrained,
          ...(from ? { resumed_from_epoch: from.epoch } : {}),
        };
        if (result.bestEpoch !== undefined) info['best_epoch'] = result.bestEpoch;
        const meta: TfModelMeta = {
          format: 'pipe-tfjs-layers',
          model: spec.name,
          version: spec.version,
          input: spec.input,
          sample_shape: sampleShape,
          num_classes: train.numClasses,
          params: p,
          history: result.history,
          info,
        };
        return new TfTrainedModel(tf, model, meta, backend, timings, result.state);
      } catch (err) {
        model.dispose();
        throw err;
      }
    },

    load: (dir: string) => loadTfModel(dir, spec.name),
  };
}

/**
 * The checkpoint to continue from, or undefined (a log line says why) when it cannot be read: a
 * straight run writes the same bytes, so an unreadable checkpoint costs time, never correctness.
 */
async function usableCheckpoint(resume: NonNullable<FitContext['resume']>, ctx: FitContext): Promise<LoopState | undefined> {
  try {
    const state = await readCheckpoint(resume.dir);
    if (state.epoch !== resume.epochs) throw new Error(`it holds epoch ${state.epoch}, the runner announced ${resume.epochs}`);
    return state;
  } catch (error) {
    ctx.log(`cannot resume from the checkpoint (${(error as Error).message}): training from the start`);
    return undefined;
  }
}

/** schedule_epochs against epochs (options.ts scheduleProblem), located at schedule_epochs. */
function scheduleProblems(p: Resolved<'epochs' | 'schedule_epochs'>): ParamProblem[] {
  const message = scheduleProblem(Math.round(num(p, 'epochs')), Math.round(num(p, 'schedule_epochs')));
  return message ? [{ path: ['schedule_epochs'], message }] : [];
}

/**
 * A tfjs training's resume point: everything but `epochs` must match, and the schedule's horizon
 * (schedule_epochs, 0 resolved to epochs) is compared resolved, so `epochs: 4` and
 * `epochs: 2, schedule_epochs: 4` share one: the first passes through the second's state.
 *
 * Why the key keeps schedule_epochs as written (out of it only at 0, x-key-omit-at-default) rather
 * than resolved: cached keys stay as they were, and a job's key params must be its params with
 * defaults left out again (work-check.ts), which a rule that depends on `epochs` would break. So
 * `epochs: 4` and `epochs: 4, schedule_epochs: 4` are two keys for one training (their
 * pipe-model.json records the params as written); being one family, whichever runs second
 * continues from the other's epoch-4 checkpoint and trains no epoch.
 */
function resumePoint(keyParams: Params): ResumePoint | undefined {
  const { epochs, schedule_epochs: horizon, ...family } = keyParams;
  if (typeof epochs !== 'number') return undefined;
  // Key params leave schedule_epochs out at its default 0 (x-key-omit-at-default).
  const resolved = typeof horizon === 'number' && horizon > 0 ? horizon : epochs;
  return { family, progress: epochs, horizon: resolved, progressParam: 'epochs', horizonParam: 'schedule_epochs' };
}
