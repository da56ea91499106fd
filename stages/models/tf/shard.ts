/**
 * One shard's share of a training step: forward in training mode, loss, gradients of every
 * trainable variable, and the batch-norm moving statistics this shard's batch would give.
 *
 * The same code runs in the training thread and in its helper threads (`shard-worker.ts`), each
 * on its own TensorFlow.js instance: a shard's numbers then do not depend on which thread computed
 * it, which is what makes training results independent of the thread count.
 */
import type * as TF from '@tensorflow/tfjs';
import { EPS } from '../../evaluate/metrics.js';
import { differentiateInputConvsLazily } from './input-conv.js';

/** Mean categorical cross-entropy of softmax outputs against target distributions, clipped like Keras. */
export function crossEntropy(tf: typeof TF, probs: TF.Tensor, targets: TF.Tensor): TF.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.log(tf.clipByValue(probs, EPS, 1 - EPS))), 1))) as TF.Scalar;
}

/**
 * Training targets: one-hot labels, or with label smoothing `epsilon` (1 - epsilon) on the true
 * class plus epsilon / K on every class. At 0 the one-hot tensor itself is returned (not a
 * product with 1), so trainings without smoothing keep their exact numbers.
 */
export function trainingTargets(tf: typeof TF, labels: TF.Tensor1D, numClasses: number, epsilon: number): TF.Tensor {
  const oneHot = tf.oneHot(labels, numClasses);
  return epsilon > 0 ? tf.add(tf.mul(oneHot, 1 - epsilon), epsilon / numClasses) : oneHot;
}

/** Where each variable lives in a flat Float32 vector: trainable weights first, then the others. */
export interface WeightLayout {
  /** Total floats of the trainable variables (the gradient's length). */
  readonly trainable: number;
  /** Total floats of the non-trainable variables (batch-norm moving mean and variance). */
  readonly state: number;
  readonly trainableOffsets: readonly number[];
  readonly stateOffsets: readonly number[];
}

export function layoutOf(model: TF.LayersModel): WeightLayout {
  const offsets = (ws: readonly { shape: readonly (number | null)[] }[]): { offsets: number[]; total: number } => {
    const out: number[] = [];
    let total = 0;
    for (const w of ws) {
      out.push(total);
      total += w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    }
    return { offsets: out, total };
  };
  const t = offsets(model.trainableWeights);
  const s = offsets(model.nonTrainableWeights);
  return { trainable: t.total, state: s.total, trainableOffsets: t.offsets, stateOffsets: s.offsets };
}

export interface ShardOutcome {
  /** The shard's mean loss (cross-entropy plus regularisers). */
  readonly loss: number;
  /** Correctly classified examples of the shard. */
  readonly correct: number;
}

/** Computes shards of training steps for one model on one TensorFlow.js instance. */
export class ShardComputer {
  readonly layout: WeightLayout;
  private readonly trainable: TF.Variable[];
  private readonly state: TF.Variable[];
  private readonly dropouts: Array<{ seed?: number | undefined }>;
  /** Floats per sample. */
  private readonly rowSize: number;

  constructor(
    private readonly tf: typeof TF,
    private readonly model: TF.LayersModel,
    private readonly sampleShape: readonly number[],
    private readonly numClasses: number,
    /** Label-smoothing epsilon of the loss (0 = one-hot targets). */
    private readonly labelSmoothing: number,
  ) {
    this.layout = layoutOf(model);
    this.rowSize = sampleShape.reduce((a, b) => a * b, 1);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- read() returns the variable itself, typed as a Tensor
    this.trainable = model.trainableWeights.map((w) => w.read() as TF.Variable);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- as above
    this.state = model.nonTrainableWeights.map((w) => w.read() as TF.Variable);
    this.dropouts = model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number | undefined }>;
    // Changes how this model instance differentiates, not what it computes (input-conv.ts).
    differentiateInputConvsLazily(tf, model);
  }

  /** Dropout layers: each shard takes one mask seed per layer. */
  get dropoutCount(): number {
    return this.dropouts.length;
  }

  get trainableVariables(): readonly TF.Variable[] {
    return this.trainable;
  }

  /** Overwrites the trainable variables from a flat vector (a helper thread taking the step's weights). */
  setTrainable(values: Float32Array): void {
    this.assign(this.trainable, this.layout.trainableOffsets, values);
  }

  /** Overwrites the non-trainable variables (moving statistics) from a flat vector. */
  setState(values: Float32Array): void {
    this.assign(this.state, this.layout.stateOffsets, values);
  }

  readTrainable(into: Float32Array): void {
    this.read(this.trainable, this.layout.trainableOffsets, into);
  }

  readState(into: Float32Array): void {
    this.read(this.state, this.layout.stateOffsets, into);
  }

  /**
   * One shard: `x` holds `count` samples and `y` their labels. Starts from the moving statistics
   * in `stateBefore`, writes the gradient into `out[0, trainable)` and the statistics the forward
   * pass left into `out[trainable, trainable + state)`.
   */
  compute(x: Float32Array, y: Int32Array, count: number, seeds: readonly number[], stateBefore: Float32Array, out: Float32Array): ShardOutcome {
    if (this.state.length) this.setState(stateBefore);
    return this.withGradients(x, y, count, seeds, (grads) => {
      this.trainable.forEach((v, i) => out.set(grads[i]!.dataSync() as Float32Array, this.layout.trainableOffsets[i]));
      if (this.state.length) this.readState(out.subarray(this.layout.trainable, this.layout.trainable + this.layout.state));
    });
  }

  /**
   * A whole batch as one shard, applied at once: the update `compute` and an average over one shard
   * give (that average multiplies by 1 and adds to 0, exact up to the sign of zero: it turned a -0
   * gradient into +0, and it put back the statistics the forward pass had left), without copying the
   * gradient and the weights through JavaScript arrays each step (~11% of an mlp training).
   */
  computeAndApply(x: Float32Array, y: Int32Array, count: number, seeds: readonly number[], optimizer: TF.Optimizer): ShardOutcome {
    return this.withGradients(x, y, count, seeds, (grads) => {
      const named: TF.NamedTensorMap = {};
      this.trainable.forEach((v, i) => (named[v.name] = grads[i]!));
      optimizer.applyGradients(named);
    });
  }

  /**
   * Sets the Dropout layers' seeds (one per layer). Each shard's forward pass sets its own; the
   * layers keep the last, and the saved model.json records it in their config.
   */
  setDropoutSeeds(seeds: readonly number[]): void {
    this.dropouts.forEach((d, i) => (d.seed = seeds[i]));
  }

  /** Forward, loss and gradients of one shard; `use` gets them in `trainableVariables` order. */
  private withGradients(x: Float32Array, y: Int32Array, count: number, seeds: readonly number[], use: (grads: readonly TF.Tensor[]) => void): ShardOutcome {
    const { tf } = this;
    this.setDropoutSeeds(seeds);
    let correct: TF.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const xs = tf.tensor(x.subarray(0, count * this.rowSize), [count, ...this.sampleShape]);
      const labels = tf.tensor1d(y.subarray(0, count), 'int32');
      const probs = this.model.apply(xs, { training: true }) as TF.Tensor;
      // Kept so it outlives the gradient scope; disposed below.
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probs, 1), labels), 'float32')));
      const ce = crossEntropy(tf, probs, trainingTargets(tf, labels, this.numClasses, this.labelSmoothing));
      const regs = this.model.calculateLosses();
      return regs.length ? (tf.addN([ce, ...regs]) as TF.Scalar) : ce;
    }, this.trainable);
    try {
      use(
        this.trainable.map((v) => {
          const g = grads[v.name];
          if (!g) throw new Error(`no gradient for ${v.name}`);
          return g;
        }),
      );
      return { loss: value.dataSync()[0]!, correct: correct ? correct.dataSync()[0]! : 0 };
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
      correct?.dispose();
    }
  }

  private assign(vars: readonly TF.Variable[], offsets: readonly number[], values: Float32Array): void {
    const { tf } = this;
    vars.forEach((v, i) => {
      const size = v.size;
      const t = tf.tensor(values.subarray(offsets[i], offsets[i]! + size), v.shape);
      v.assign(t);
      t.dispose();
    });
  }

  private read(vars: readonly TF.Variable[], offsets: readonly number[], into: Float32Array): void {
    vars.forEach((v, i) => into.set(v.dataSync() as Float32Array, offsets[i]));
  }
}
