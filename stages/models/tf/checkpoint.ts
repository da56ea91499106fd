/**
 * A tfjs training's complete state after an epoch, as files: what `trainLoop` needs to go on from
 * there and end with exactly the weights a straight run ends with. The train stage writes it into
 * its artifact's `checkpoint/` folder, so it is content-hashed and verified like every other file.
 *
 *   state.json   epoch, global step, rng state, history, early-stopping bookkeeping, optimizer
 *                scalars, the dropout layers' last seeds, and the shape of every array below (no names: tfjs variable names carry
 *                per-process suffixes, and these bytes must not depend on the process)
 *   tensors.bin  float32 little-endian: the model's weights (batch-norm moving statistics included,
 *                in `model.weights` order), the optimizer's slots (getWeights() order, its
 *                iteration count left out), then the best weights when restore-best holds some
 *   order.bin    int32 little-endian: the data-order permutation, which each epoch shuffles in place
 *
 * Nothing here depends on wall-clock time, so a resumed and a straight training write the same bytes.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EpochRecord } from '../types.js';

export const STATE_JSON = 'state.json';
export const TENSORS_BIN = 'tensors.bin';
export const ORDER_BIN = 'order.bin';
/**
 * Bumped when the layout changes, together with the tfjs models' versions (a new layout changes the
 * train artifacts' bytes, so their keys must change too): a checkpoint of another format is refused.
 */
export const CHECKPOINT_FORMAT = 1;

export interface ShapedArray {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export interface OptimizerState {
  readonly kind: 'adam' | 'sgd';
  /** Steps taken (tfjs Optimizer.iterations). */
  readonly iterations: number;
  /**
   * Adam's running beta1^t and beta2^t. tfjs's setWeights recomputes them as pow(beta, t + 1),
   * which differs in the last bits from the product the steps accumulated, so they are kept as is.
   */
  readonly accBeta1?: number;
  readonly accBeta2?: number;
  /** Adam: first moments then second moments; sgd: momentum accumulators. */
  readonly slots: readonly ShapedArray[];
}

export interface LoopState {
  /** Epochs done. */
  readonly epoch: number;
  /** Global step counter (batches done). */
  readonly step: number;
  /** The loop's Rng state (prng.ts). */
  readonly rng: number;
  readonly order: Int32Array;
  readonly history: readonly EpochRecord[];
  readonly stoppedEarly: boolean;
  /** Lowest validation loss so far (Infinity before any), its epoch, and epochs since. */
  readonly best: number;
  readonly bestEpoch?: number;
  readonly wait: number;
  /** The raw last-epoch weights: never the restored best ones. */
  readonly weights: readonly ShapedArray[];
  readonly bestWeights?: readonly ShapedArray[];
  readonly optimizer: OptimizerState;
  /**
   * Each Dropout layer's seed as the last step left it (null: none yet). The layer's config, and so
   * the saved model.json, records it, so a resumed training that trains no further epochs must
   * start from it too.
   */
  readonly dropoutSeeds: readonly (number | null)[];
}

interface StateJson {
  readonly format: number;
  readonly epoch: number;
  readonly step: number;
  readonly rng: number;
  readonly stopped_early: boolean;
  /** null: no validation loss seen yet (JSON has no Infinity). */
  readonly best_val_loss: number | null;
  readonly best_epoch: number | null;
  readonly wait: number;
  readonly history: readonly EpochRecord[];
  readonly optimizer: { readonly kind: 'adam' | 'sgd'; readonly iterations: number; readonly acc_beta1: number | null; readonly acc_beta2: number | null; readonly slots: readonly (readonly number[])[] };
  readonly weights: readonly (readonly number[])[];
  readonly best_weights: readonly (readonly number[])[] | null;
  readonly order_length: number;
  readonly dropout_seeds: readonly (number | null)[];
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Writes `state` into `dir` (which exists). */
export async function writeCheckpoint(dir: string, state: LoopState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const arrays = [...state.weights, ...state.optimizer.slots, ...(state.bestWeights ?? [])];
  const total = arrays.reduce((n, a) => n + a.values.length, 0);
  const tensors = new Float32Array(total);
  let at = 0;
  for (const a of arrays) {
    if (a.values.length !== sizeOf(a.shape)) throw new Error(`checkpoint array of shape [${a.shape.join(',')}] holds ${a.values.length} values`);
    tensors.set(a.values, at);
    at += a.values.length;
  }
  const json: StateJson = {
    format: CHECKPOINT_FORMAT,
    epoch: state.epoch,
    step: state.step,
    rng: state.rng,
    stopped_early: state.stoppedEarly,
    best_val_loss: Number.isFinite(state.best) ? state.best : null,
    best_epoch: state.bestEpoch ?? null,
    wait: state.wait,
    history: state.history,
    optimizer: {
      kind: state.optimizer.kind,
      iterations: state.optimizer.iterations,
      acc_beta1: state.optimizer.accBeta1 ?? null,
      acc_beta2: state.optimizer.accBeta2 ?? null,
      slots: state.optimizer.slots.map((s) => [...s.shape]),
    },
    weights: state.weights.map((w) => [...w.shape]),
    best_weights: state.bestWeights ? state.bestWeights.map((w) => [...w.shape]) : null,
    order_length: state.order.length,
    dropout_seeds: state.dropoutSeeds,
  };
  await writeFile(join(dir, TENSORS_BIN), new Uint8Array(tensors.buffer, tensors.byteOffset, tensors.byteLength));
  await writeFile(join(dir, ORDER_BIN), new Uint8Array(state.order.buffer, state.order.byteOffset, state.order.byteLength));
  await writeFile(join(dir, STATE_JSON), `${JSON.stringify(json, null, 1)}\n`);
}

/** Reads a checkpoint `writeCheckpoint` wrote; throws naming what does not fit. */
export async function readCheckpoint(dir: string): Promise<LoopState> {
  const json = JSON.parse(await readFile(join(dir, STATE_JSON), 'utf8')) as StateJson;
  if (json.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint ${dir} has format ${String(json.format)}, this pipe reads ${CHECKPOINT_FORMAT}`);
  // The shape of what is read below: a file of this format written by another build must not crash the loop.
  const integers = [json.epoch, json.step, json.rng, json.wait, json.order_length, json.optimizer?.iterations];
  const lists = [json.history, json.weights, json.optimizer?.slots, json.dropout_seeds];
  if (!integers.every(Number.isInteger) || !lists.every(Array.isArray) || (json.best_weights !== null && !Array.isArray(json.best_weights))) {
    throw new Error(`checkpoint ${dir}: ${STATE_JSON} lacks fields this pipe reads`);
  }
  const bytes = await readFile(join(dir, TENSORS_BIN));
  // A copy: the file's Buffer may sit at an offset that is not a multiple of 4 in a shared pool.
  const tensors = new Float32Array(new Uint8Array(bytes).buffer);
  const orderBytes = await readFile(join(dir, ORDER_BIN));
  const order = new Int32Array(new Uint8Array(orderBytes).buffer);
  if (order.length !== json.order_length) throw new Error(`checkpoint ${dir}: ${ORDER_BIN} holds ${order.length} indices, ${STATE_JSON} says ${json.order_length}`);
  let at = 0;
  const take = (shapes: readonly (readonly number[])[]): ShapedArray[] =>
    shapes.map((shape) => {
      const n = sizeOf(shape);
      if (at + n > tensors.length) throw new Error(`checkpoint ${dir}: ${TENSORS_BIN} is shorter than ${STATE_JSON} says`);
      const values = tensors.slice(at, at + n);
      at += n;
      return { shape: [...shape], values };
    });
  const weights = take(json.weights);
  const slots = take(json.optimizer.slots);
  const bestWeights = json.best_weights ? take(json.best_weights) : undefined;
  if (at !== tensors.length) throw new Error(`checkpoint ${dir}: ${TENSORS_BIN} is longer than ${STATE_JSON} says`);
  return {
    epoch: json.epoch,
    step: json.step,
    rng: json.rng,
    order,
    history: json.history,
    stoppedEarly: json.stopped_early,
    best: json.best_val_loss ?? Infinity,
    ...(json.best_epoch !== null ? { bestEpoch: json.best_epoch } : {}),
    wait: json.wait,
    weights,
    ...(bestWeights ? { bestWeights } : {}),
    optimizer: {
      kind: json.optimizer.kind,
      iterations: json.optimizer.iterations,
      ...(json.optimizer.acc_beta1 !== null ? { accBeta1: json.optimizer.acc_beta1 } : {}),
      ...(json.optimizer.acc_beta2 !== null ? { accBeta2: json.optimizer.acc_beta2 } : {}),
      slots,
    },
    dropoutSeeds: json.dropout_seeds,
  };
}
