/**
 * Contract for every model in the registry (`stages/models/index.ts`).
 * A model is one file exporting a `ModelDefinition`, one registry line, and a params schema
 * in `schemas/models/<name>.schema.json`.
 */
import type { JsonSchema, JsonValue, ParamProblem, Params, ResumePoint, ThreadNeed } from '../types.js';

/** Features plus labels. `x` is float32 in [0,1]; shape is [N,28,28,1] (image) or [N,D] (flat). */
export interface Dataset {
  readonly x: Float32Array;
  readonly shape: readonly number[];
  readonly y: Uint8Array;
  readonly numClasses: number;
}

/** One row of the training curves. Validation fields are absent when no validation set was given. */
export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly val_loss?: number;
  readonly val_accuracy?: number;
  readonly learning_rate?: number;
}

export interface FitContext {
  readonly signal: AbortSignal;
  progress(done: number, total: number, label?: string): void;
  log(message: string): void;
  /** Backend forced by the pipeline/CLI, if any (`tensorflow` | `wasm` | `cpu`). */
  readonly backend?: string;
  /**
   * Threads the scheduler grants this training now (its slots of `--jobs`); 1 when absent. For a
   * resizable model (ModelDefinition.threads) it may change between reads.
   */
  readonly threads?: number;
  /**
   * A checkpoint of this same training (same params but fewer or equal epochs) to continue from:
   * the `checkpoint/` folder a previous fit's `saveCheckpoint` wrote, at `epochs` epochs done.
   */
  readonly resume?: { readonly dir: string; readonly epochs: number };
}

export interface TrainedModel {
  /** Row-major [N, numClasses] class probabilities (or scores summing to 1). */
  predictProba(x: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  /** Writes everything `load` needs into `dir` (which exists and is empty). */
  save(dir: string): Promise<void>;
  readonly history?: readonly EpochRecord[];
  /** Compute backend used (tfjs backend name, or "js"/"wasm" for classical models). */
  readonly backend: string;
  /** Extra figures for the manifest (e.g. train_images_per_s, n_support_vectors). */
  readonly info?: Record<string, JsonValue>;
  /**
   * Wall-clock figures of this fit (epoch times, loop throughput). They go into the manifest's
   * metrics only, never into saved files: artifact bytes must not depend on how fast a machine is.
   */
  readonly timings?: Record<string, JsonValue> | undefined;
  /**
   * Writes the training's raw state after its last epoch (what a later fit needs to continue it
   * exactly) into `dir` (exists, empty), returning the epochs it holds. Resumable models only.
   */
  saveCheckpoint?(dir: string): Promise<{ readonly epochs: number }>;
  dispose?(): void;
}

export interface ModelDefinition {
  readonly name: string;
  /** Bump when training output may change for the same params: invalidates caches. */
  readonly version: number;
  readonly description: string;
  /** "image" needs [N,28,28,1]; "flat" needs [N,D]. */
  readonly input: 'image' | 'flat';
  /** JSON Schema of this model's params (without the `model` key): their types, ranges and defaults. */
  readonly schema: JsonSchema;
  /** Every param the code reads; the schema's properties are exactly these (tested). */
  readonly params: readonly string[];
  /**
   * The most threads a fit with these params can use (default 1): the train stage asks the
   * scheduler for that many and passes what it got as `FitContext.threads`. Results must not
   * depend on the thread count.
   */
  threads?(params: Params): ThreadNeed;
  /** Cross-param checks (StageDefinition.checkParams), on params with defaults filled in. */
  checkParams?(params: Params): readonly ParamProblem[];
  /** Models that can continue a fit from a checkpoint (FitContext.resume): StageDefinition.resumePoint. */
  resumePoint?(keyParams: Params): ResumePoint | undefined;
  fit(train: Dataset, validation: Dataset | undefined, params: Params, ctx: FitContext): Promise<TrainedModel>;
  load(dir: string): Promise<TrainedModel>;
}
