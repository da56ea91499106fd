/**
 * Synchronous data parallelism for the tfjs models: each batch is split into a fixed number of
 * shards (`batch_shards`), every shard's gradient is computed on its own, and the gradients are
 * averaged in shard order before one optimizer update.
 *
 * Why this shape: the wasm backend runs one core per instance under Node (no pthreads in
 * worker_threads), so a training uses several cores only through several instances. The shard
 * count, not the thread count, defines the maths (batch norm normalises each shard by its own
 * statistics, "ghost batch norm"); threads only decide who computes which shard. So a seed gives
 * bit-identical weights with 1, 2 or `batch_shards` threads, and the thread count stays out of the
 * cache key. With one shard this is exactly whole-batch training.
 *
 * Threads: this thread computes shards 0, T, 2T, … and T-1 helper threads (`shard-worker.ts`, each
 * with its own TensorFlow.js instance) compute the others. Batches, weights and gradients travel
 * through SharedArrayBuffers; messages carry only shard indices and seeds.
 */
import { Worker } from 'node:worker_threads';
import type * as TF from '@tensorflow/tfjs';
import { workerScript } from '../worker-pool.js';
import { ShardComputer, type ShardOutcome } from './shard.js';
import { errorMessage } from '../../errors.js';

export interface DataParallelOptions {
  readonly shards: number;
  /** Threads granted to the stage; at most `shards` are used. */
  readonly threads: number;
  readonly batchSize: number;
  readonly sampleShape: readonly number[];
  readonly numClasses: number;
  /** Label-smoothing epsilon of the loss, which every shard must use alike. */
  readonly labelSmoothing: number;
  /** The TensorFlow.js backend every helper starts (the training thread's). */
  readonly backend: string;
  log(message: string): void;
}

/** What the training thread asks of a helper for one step. */
export interface ShardJob {
  readonly index: number;
  readonly start: number;
  readonly count: number;
  readonly seeds: readonly number[];
}

export type HelperRequest = { readonly type: 'step'; readonly jobs: readonly ShardJob[] };
export type HelperReply =
  | { readonly type: 'ready'; readonly trainable: number; readonly state: number }
  | { readonly type: 'done'; readonly outcomes: readonly (ShardOutcome & { readonly index: number })[] }
  | { readonly type: 'error'; readonly message: string };

/** Shared buffers and model description a helper starts from. */
export interface HelperData {
  readonly topology: unknown;
  readonly backend: string;
  readonly sampleShape: readonly number[];
  readonly numClasses: number;
  readonly labelSmoothing: number;
  readonly batchX: Float32Array;
  readonly batchY: Int32Array;
  /** The step's weights: trainable values, then the moving statistics the step starts from. */
  readonly weights: Float32Array;
  /** One row of `trainable + state` floats per shard: its gradient, then its statistics. */
  readonly slots: Float32Array;
}

/** Rows [start, start + count) of a batch of `b` rows that shard `s` of `shards` takes. */
export function shardRange(b: number, shards: number, s: number): { start: number; count: number } {
  const start = Math.floor((s * b) / shards);
  return { start, count: Math.floor(((s + 1) * b) / shards) - start };
}

interface Helper {
  readonly worker: Worker;
  pending?: { resolve: (r: HelperReply & { type: 'done' }) => void; reject: (e: Error) => void } | undefined;
}

export class DataParallelStep {
  /** The batch to train on: the loop writes rows and labels here before each `step`. */
  readonly batchX: Float32Array;
  readonly batchY: Int32Array;
  private readonly computer: ShardComputer;
  private readonly width: number;
  /** Floats per sample. */
  private readonly rowSize: number;
  private readonly weights: Float32Array;
  private readonly slots: Float32Array;
  private readonly sum: Float64Array;
  private readonly gradient: Float32Array;
  private readonly stateAfter: Float32Array;
  /** Helpers computing shards, and those still rebuilding the model (they join once ready). */
  private helpers: Helper[] = [];
  private starting: Helper[] = [];
  /** A helper failed mid-step: the step (and the training) fails with this. */
  private failure: Error | undefined;
  /** Helpers could not start once: stay on the threads there are. */
  private cannotGrow = false;
  private readonly topology: unknown;

  private constructor(
    private readonly tf: typeof TF,
    model: TF.LayersModel,
    private readonly options: DataParallelOptions,
    /** The compiled helper script, when helpers may run at all (shared memory is then allocated). */
    private readonly script: URL | undefined,
  ) {
    this.rowSize = options.sampleShape.reduce((a, b) => a * b, 1);
    const shared = script !== undefined;
    const floats = (n: number): Float32Array => (shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n));
    this.computer = new ShardComputer(tf, model, options.sampleShape, options.numClasses, options.labelSmoothing);
    const { trainable, state } = this.computer.layout;
    this.width = trainable + state;
    this.batchX = floats(options.batchSize * this.rowSize);
    this.batchY = shared ? new Int32Array(new SharedArrayBuffer(4 * options.batchSize)) : new Int32Array(options.batchSize);
    this.weights = floats(this.width);
    this.slots = floats(options.shards * this.width);
    this.sum = new Float64Array(this.width);
    this.gradient = new Float32Array(trainable);
    this.stateAfter = new Float32Array(state);
    this.topology = shared ? model.toJSON(null, false) : undefined;
  }

  /**
   * Starts the helpers the first step uses; falls back to this thread alone (same results, slower)
   * when they cannot start. Helpers need the compiled script (they do not run from .ts sources).
   */
  static async create(tf: typeof TF, model: TF.LayersModel, options: DataParallelOptions): Promise<DataParallelStep> {
    const script = options.shards > 1 ? workerScript(new URL('./shard-worker.js', import.meta.url)) : undefined;
    const threads = Math.max(1, Math.min(options.threads, options.shards));
    if (threads > 1 && !script) options.log('shard worker not compiled (running from .ts sources): training in one thread');
    const step = new DataParallelStep(tf, model, options, script);
    if (threads > 1 && script) {
      try {
        await Promise.all(Array.from({ length: threads - 1 }, () => step.startHelper()));
      } catch (error) {
        step.dispose();
        options.log(`training in one thread: helper threads could not start (${errorMessage(error)})`);
        return new DataParallelStep(tf, model, options, undefined);
      }
    }
    return step;
  }

  /** Threads computing shards, this one included. */
  get threads(): number {
    return this.helpers.length + 1;
  }

  get dropoutCount(): number {
    return this.computer.dropoutCount;
  }

  /** The training thread's variables: each step's helpers start from their values. */
  get trainableVariables(): readonly TF.Variable[] {
    return this.computer.trainableVariables;
  }

  /**
   * Follows a new thread grant between steps: stops helpers, or starts some and waits until they
   * are ready (about a second, once per grant change: the granted core is idle meanwhile anyway).
   * The results are the same on any thread count, so this changes only the speed.
   */
  async resize(threads: number): Promise<void> {
    if (!this.script || this.cannotGrow) return;
    const target = Math.max(1, Math.min(threads, this.options.shards)) - 1;
    while (this.helpers.length > target) void this.helpers.pop()?.worker.terminate();
    const more = target - this.helpers.length;
    if (more <= 0) return;
    try {
      await Promise.all(Array.from({ length: more }, () => this.startHelper()));
    } catch (error) {
      this.cannotGrow = true;
      this.options.log(`could not start another training thread, going on with ${this.threads}: ${errorMessage(error)}`);
    }
  }

  /**
   * One optimizer step over the first `b` rows of the batch buffers. `seeds[s]` holds shard s's
   * dropout seeds. Returns the batch's mean loss and its correct count.
   */
  async step(b: number, seeds: readonly (readonly number[])[], optimizer: TF.Optimizer): Promise<ShardOutcome> {
    if (this.failure) throw this.failure;
    const { shards } = this.options;
    if (shards === 1) return this.computer.computeAndApply(this.batchX, this.batchY, b, seeds[0] ?? [], optimizer);
    const { trainable } = this.computer.layout;
    const helpers = [...this.helpers];
    const threads = helpers.length + 1;
    // The step's starting point: helpers read the weights; every shard starts from these statistics.
    const stateBefore = this.weights.subarray(trainable);
    if (threads > 1) this.computer.readTrainable(this.weights.subarray(0, trainable));
    this.computer.readState(stateBefore);

    const jobsOf = (thread: number): ShardJob[] => {
      const jobs: ShardJob[] = [];
      for (let s = thread; s < shards; s += threads) {
        const { start, count } = shardRange(b, shards, s);
        if (count > 0) jobs.push({ index: s, start, count, seeds: seeds[s] ?? [] });
      }
      return jobs;
    };
    const replies = helpers.map((h, i) => this.ask(h, { type: 'step', jobs: jobsOf(i + 1) }));
    const outcomes = new Map<number, ShardOutcome>();
    for (const job of jobsOf(0)) {
      outcomes.set(
        job.index,
        this.computer.compute(
          this.batchX.subarray(job.start * this.rowSize),
          this.batchY.subarray(job.start),
          job.count,
          job.seeds,
          stateBefore,
          this.slots.subarray(job.index * this.width, (job.index + 1) * this.width),
        ),
      );
    }
    for (const reply of await Promise.all(replies)) for (const o of reply.outcomes) outcomes.set(o.index, o);
    // The layers end with the last shard's seeds, as when this thread computes every shard: the
    // saved model.json (and a checkpoint) then holds the same bytes for any thread count.
    this.computer.setDropoutSeeds(seeds[shards - 1] ?? []);

    // Average in shard order, whoever computed each shard: the same sums for any thread count.
    this.sum.fill(0);
    let loss = 0;
    let correct = 0;
    for (let s = 0; s < shards; s++) {
      const o = outcomes.get(s);
      if (!o) continue;
      const w = shardRange(b, shards, s).count / b;
      const slot = this.slots.subarray(s * this.width, (s + 1) * this.width);
      for (let j = 0; j < this.width; j++) this.sum[j]! += w * slot[j]!;
      loss += w * o.loss;
      correct += o.correct;
    }
    for (let j = 0; j < trainable; j++) this.gradient[j] = this.sum[j]!;
    for (let j = 0; j < this.stateAfter.length; j++) this.stateAfter[j] = this.sum[trainable + j]!;
    this.apply(optimizer);
    return { loss, correct };
  }

  /** Stops the helper threads. */
  dispose(): void {
    for (const h of [...this.helpers, ...this.starting]) void h.worker.terminate();
    this.helpers = [];
    this.starting = [];
  }

  private apply(optimizer: TF.Optimizer): void {
    const { tf } = this;
    const offsets = this.computer.layout.trainableOffsets;
    const named: Record<string, TF.Tensor> = {};
    this.computer.trainableVariables.forEach((v, i) => {
      named[v.name] = tf.tensor(this.gradient.subarray(offsets[i], offsets[i]! + v.size), v.shape);
    });
    optimizer.applyGradients(named);
    tf.dispose(Object.values(named));
    if (this.stateAfter.length) this.computer.setState(this.stateAfter);
  }

  private ask(helper: Helper, request: HelperRequest): Promise<HelperReply & { type: 'done' }> {
    return new Promise((resolve, reject) => {
      helper.pending = { resolve, reject };
      helper.worker.postMessage(request);
    });
  }

  /** Starts one helper; it joins `helpers` once it has rebuilt the model. */
  private startHelper(): Promise<void> {
    const script = this.script;
    if (!script) return Promise.reject(new Error('no helper script'));
    const data: HelperData = {
      topology: this.topology,
      backend: this.options.backend,
      sampleShape: this.options.sampleShape,
      numClasses: this.options.numClasses,
      labelSmoothing: this.options.labelSmoothing,
      batchX: this.batchX,
      batchY: this.batchY,
      weights: this.weights,
      slots: this.slots,
    };
    const { trainable, state } = this.computer.layout;
    const worker = new Worker(script, { workerData: data });
    const helper: Helper = { worker };
    this.starting.push(helper);
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const drop = (): void => {
        this.starting = this.starting.filter((h) => h !== helper);
        this.helpers = this.helpers.filter((h) => h !== helper);
      };
      const fail = (error: Error): void => {
        drop();
        void worker.terminate();
        if (!ready) return reject(error);
        // Mid-training: the step waiting on this helper fails, and so does every later one.
        this.failure ??= error;
        helper.pending?.reject(error);
        helper.pending = undefined;
      };
      worker.on('message', (reply: HelperReply) => {
        if (reply.type === 'ready') {
          if (reply.trainable !== trainable || reply.state !== state) return fail(new Error(`a helper rebuilt the model with ${reply.trainable}+${reply.state} weights instead of ${trainable}+${state}`));
          // Stopped (resize, dispose) while it was starting: never joins.
          if (!this.starting.includes(helper)) return resolve();
          ready = true;
          drop();
          this.helpers.push(helper);
          resolve();
        } else if (reply.type === 'error') {
          fail(new Error(`training helper thread: ${reply.message}`));
        } else {
          const pending = helper.pending;
          helper.pending = undefined;
          pending?.resolve(reply);
        }
      });
      worker.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
      // A helper stopped on purpose (resize, dispose) is no longer listed: its exit is no failure.
      worker.on('exit', (code) => {
        if (this.helpers.includes(helper) || this.starting.includes(helper)) fail(new Error(`training helper thread exited with code ${code}`));
        else if (!ready) resolve();
      });
    });
  }
}
