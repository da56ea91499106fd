/**
 * The training loop shared by the tfjs models. A hand-written loop rather than `model.fit`
 * because fit shuffles with Math.random, cannot change the learning rate per batch, and
 * gives no abort hook: here shuffling/augmentation/dropout masks come from one seeded Rng,
 * so a seed reproduces the same weights on the same backend.
 */
import type * as TF from '@tensorflow/tfjs';
import type { Dataset, EpochRecord, FitContext } from '../types.js';
import { perturb, perturbParams } from '../../augment.js';
import { valueRange } from '../../data/arrays.js';
import { DataParallelStep } from './data-parallel.js';
import { learningRateAt, type TrainOptions } from './options.js';
import { Rng } from './prng.js';
import type { LoopState, ShapedArray } from './checkpoint.js';
import { captureOptimizer, restoreOptimizer } from './optimizer-state.js';
import { ProbabilityScore } from '../../evaluate/metrics.js';
import { predictBatched } from './trained.js';
import { decoupledWeightDecay } from './weight-decay.js';

export interface LoopResult {
  readonly history: EpochRecord[];
  readonly stoppedEarly: boolean;
  /** Wall-clock seconds per epoch: metrics only (see TrainedModel.timings). */
  readonly epochSeconds: readonly number[];
  /** Epoch (1-based) whose weights the model ends with when early stopping restored them. */
  readonly bestEpoch?: number;
  /** Most threads that computed one step's shards (metrics only: results do not depend on it). */
  readonly threads: number;
  /** The state after the last epoch, before any restore-best swap: what a longer run continues from. */
  readonly state: LoopState;
  /** Epochs this call trained (fewer than history.length when it continued a checkpoint). */
  readonly epochsTrained: number;
}


/** Random shift (zero fill) and horizontal flip, per image, in place on an NHWC batch. */
function augment(buf: Float32Array, b: number, shape: readonly number[], o: TrainOptions, rng: Rng, tmp: Float32Array): void {
  const [h = 1, w = 1, c = 1] = shape;
  const size = h * w * c;
  for (let i = 0; i < b; i++) {
    const dx = o.augmentShift ? rng.int(2 * o.augmentShift + 1) - o.augmentShift : 0;
    const dy = o.augmentShift ? rng.int(2 * o.augmentShift + 1) - o.augmentShift : 0;
    const flip = o.augmentFlip && rng.next() < 0.5;
    if (!dx && !dy && !flip) continue;
    const img = buf.subarray(i * size, (i + 1) * size);
    tmp.set(img);
    for (let y = 0; y < h; y++) {
      const sy = y - dy;
      for (let x = 0; x < w; x++) {
        const fx = x - dx;
        const sx = flip ? w - 1 - fx : fx;
        for (let k = 0; k < c; k++) {
          img[(y * w + x) * c + k] = sy >= 0 && sy < h && fx >= 0 && fx < w ? tmp[(sy * w + sx) * c + k]! : 0;
        }
      }
    }
  }
}

/**
 * Random erasing (Zhong et al. 2017, "Random Erasing Data Augmentation"), per image in place on an
 * NHWC batch: with probability p, one rectangle of 2–40% of the image's area and aspect ratio
 * 0.3–3.3 (log-uniform, so tall and wide are equally likely) is filled with uniform noise over the
 * image's own value range, which suits both scaled and standardized inputs. As in the paper, a
 * rectangle that does not fit is drawn again (up to 10 tries). Exported for its unit test.
 */
export function erase(buf: Float32Array, b: number, shape: readonly number[], p: number, rng: Rng): void {
  const [h = 1, w = 1, c = 1] = shape;
  const size = h * w * c;
  for (let i = 0; i < b; i++) {
    if (rng.next() >= p) continue;
    const img = buf.subarray(i * size, (i + 1) * size);
    for (let attempt = 0; attempt < 10; attempt++) {
      const area = h * w * (0.02 + rng.next() * 0.38);
      const aspect = Math.exp(Math.log(0.3) + rng.next() * (Math.log(1 / 0.3) - Math.log(0.3)));
      const eh = Math.round(Math.sqrt(area * aspect));
      const ew = Math.round(Math.sqrt(area / aspect));
      if (eh < 1 || ew < 1 || eh > h || ew > w) continue;
      const y0 = rng.int(h - eh + 1);
      const x0 = rng.int(w - ew + 1);
      const [lo, hi] = valueRange(img);
      for (let y = y0; y < y0 + eh; y++) {
        for (let x = x0; x < x0 + ew; x++) {
          for (let k = 0; k < c; k++) img[(y * w + x) * c + k] = lo + rng.next() * (hi - lo);
        }
      }
      break;
    }
  }
}

/** Validation loss/accuracy from batched inference (inference mode: no dropout, BN moving stats). */
async function evaluate(tf: typeof TF, model: TF.LayersModel, data: Dataset): Promise<{ loss: number; accuracy: number }> {
  const score = new ProbabilityScore();
  score.add(await predictBatched(tf, model, data.x, data.shape.slice(1), data.numClasses), data.y, data.numClasses);
  return { loss: score.loss, accuracy: score.accuracy };
}

function makeOptimizer(tf: typeof TF, o: TrainOptions): { optimizer: TF.Optimizer; setLr: (lr: number) => void } {
  if (o.optimizer === 'sgd') {
    const optimizer = tf.train.momentum(o.learningRate, o.momentum);
    // Momentum caches -lr in a tensor, so it must go through setLearningRate.
    return { optimizer, setLr: (lr) => optimizer.setLearningRate(lr) };
  }
  const optimizer = tf.train.adam(o.learningRate);
  // Adam reads its (protected) learningRate field on every step.
  return { optimizer, setLr: (lr) => ((optimizer as unknown as { learningRate: number }).learningRate = lr) };
}

async function readWeights(tensors: readonly TF.Tensor[]): Promise<ShapedArray[]> {
  const out: ShapedArray[] = [];
  for (const t of tensors) out.push({ shape: [...t.shape], values: Float32Array.from(await t.data()) });
  return out;
}

function toTensors(tf: typeof TF, arrays: readonly ShapedArray[]): TF.Tensor[] {
  return arrays.map((a) => tf.tensor(a.values, [...a.shape]));
}

/** Throws unless `arrays` have the shapes of the model's weights (a checkpoint of this very model). */
function checkShapes(model: TF.LayersModel, arrays: readonly ShapedArray[], what: string): void {
  const want = model.weights.map((w) => w.shape.join(','));
  const got = arrays.map((a) => a.shape.join(','));
  if (want.join(';') !== got.join(';')) throw new Error(`checkpoint ${what} do not fit the model: [${got.join('] [')}] vs [${want.join('] [')}]`);
}

/** The model's Dropout layers, whose `seed` the shard computer sets every step (shard.ts). */
function dropoutLayers(model: TF.LayersModel): Array<{ seed?: number | undefined }> {
  return model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number | undefined }>;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function trainLoop(
  tf: typeof TF,
  model: TF.LayersModel,
  train: Dataset,
  val: Dataset | undefined,
  o: TrainOptions,
  ctx: FitContext,
  /** A checkpoint of this same training (same options but `epochs`) to continue from. */
  resume?: LoopState,
): Promise<LoopResult> {
  const rng = new Rng(o.seed ^ 0x2545f491);
  const sampleShape = train.shape.slice(1);
  const rowSize = sampleShape.reduce((a, b) => a * b, 1);
  const n = train.y.length;
  const bs = Math.min(o.batchSize, n);
  const stepsPerEpoch = Math.ceil(n / bs);
  const totalSteps = o.epochs * stepsPerEpoch;
  const augmenting = sampleShape.length === 3 && (o.augmentShift > 0 || o.augmentFlip);
  const erasing = sampleShape.length === 3 && o.augmentErase > 0;
  // Photo-like perturbations work on 28×28 single-channel images in [0,1], as the augment stage does.
  const photo = o.augmentPhoto > 0 && rowSize === 784 ? perturbParams() : undefined;
  const random = (): number => rng.next();

  if (resume) {
    if (resume.epoch > o.epochs) throw new Error(`checkpoint is at epoch ${resume.epoch}, past this training's ${o.epochs}`);
    if (resume.order.length !== n) throw new Error(`checkpoint orders ${resume.order.length} examples, the training set has ${n}`);
    checkShapes(model, resume.weights, 'weights');
    if (resume.bestWeights) checkShapes(model, resume.bestWeights, 'best weights');
    // Before the stepper exists: its shard computers and helpers read the model's variables.
    const weights = toTensors(tf, resume.weights);
    model.setWeights(weights);
    tf.dispose(weights);
    rng.setState(resume.rng);
    const dropouts = dropoutLayers(model);
    if (resume.dropoutSeeds.length !== dropouts.length) throw new Error(`checkpoint has ${resume.dropoutSeeds.length} dropout seeds, the model ${dropouts.length} dropout layers`);
    dropouts.forEach((layer, i) => {
      const seed = resume.dropoutSeeds[i];
      layer.seed = seed ?? undefined;
    });
  }
  const { optimizer, setLr } = makeOptimizer(tf, o);
  if (resume) await restoreOptimizer(tf, optimizer, resume.optimizer, o.optimizer);
  // tfjs-node already runs each kernel on every core: more instances would only compete.
  const granted = (): number => (tf.getBackend() === 'tensorflow' ? 1 : (ctx.threads ?? 1));
  const stepper = await DataParallelStep.create(tf, model, {
    shards: o.batchShards,
    threads: granted(),
    batchSize: bs,
    sampleShape,
    numClasses: train.numClasses,
    labelSmoothing: o.labelSmoothing,
    backend: tf.getBackend(),
    log: (m) => ctx.log(m),
  });
  // Decays the training thread's weights after each update; helpers read them at the next step.
  const decay = decoupledWeightDecay(tf, stepper.trainableVariables, o.weightDecay);
  if (stepper.threads > 1) ctx.log(`training on ${stepper.threads} threads (${o.batchShards} shards per batch)`);
  const order = resume ? Int32Array.from(resume.order) : Int32Array.from({ length: n }, (_, i) => i);
  const xb = stepper.batchX;
  const yb = stepper.batchY;
  const tmp = new Float32Array(rowSize);

  const history: EpochRecord[] = resume ? [...resume.history] : [];
  const epochSeconds: number[] = [];
  let best = resume?.best ?? Infinity;
  let bestEpoch: number | undefined = resume?.bestEpoch;
  let bestWeights: TF.Tensor[] | undefined = resume?.bestWeights ? toTensors(tf, resume.bestWeights) : undefined;
  let wait = resume?.wait ?? 0;
  let stoppedEarly = resume?.stoppedEarly ?? false;
  let step = resume?.step ?? 0;
  let lr = o.learningRate;
  let peakThreads = 1;
  const firstEpoch = resume?.epoch ?? 0;

  try {
    for (let epoch = firstEpoch; epoch < o.epochs && !stoppedEarly; epoch++) {
      const t0 = performance.now();
      rng.shuffle(order);
      let lossSum = 0;
      let correctSum = 0;
      for (let s = 0; s < stepsPerEpoch; s++, step++) {
        ctx.signal.throwIfAborted();
        const start = s * bs;
        const b = Math.min(bs, n - start);
        for (let i = 0; i < b; i++) {
          const src = order[start + i]!;
          xb.set(train.x.subarray(src * rowSize, (src + 1) * rowSize), i * rowSize);
          yb[i] = train.y[src]!;
        }
        if (augmenting) augment(xb, b, sampleShape, o, rng, tmp);
        // Draws from the rng only when on, so trainings without it keep their exact stream.
        if (erasing) erase(xb, b, sampleShape, o.augmentErase, rng);
        if (photo) {
          for (let i = 0; i < b; i++) {
            if (rng.next() >= o.augmentPhoto) continue;
            const img = xb.subarray(i * rowSize, (i + 1) * rowSize);
            tmp.set(img);
            perturb(tmp, img, photo, random);
          }
        }
        lr = learningRateAt(o, step, stepsPerEpoch);
        setLr(lr);
        // Dropout layers draw masks from tf.randomUniform(seed): fresh seeds every step (and per
        // shard) give masks that differ per batch yet repeat across runs.
        const seeds = Array.from({ length: o.batchShards }, () => Array.from({ length: stepper.dropoutCount }, () => rng.seed()));
        // The scheduler may have lent this training idle cores, or taken some back.
        await stepper.resize(granted());
        peakThreads = Math.max(peakThreads, stepper.threads);
        const outcome = await stepper.step(b, seeds, optimizer);
        decay?.(lr);
        lossSum += outcome.loss * b;
        correctSum += outcome.correct;

        ctx.progress(step + 1, totalSteps, `epoch ${epoch + 1}/${o.epochs}`);
        // Lets the abort signal (Ctrl-C) and progress output through between batches.
        await yieldToEventLoop();
      }

      const record: { -readonly [K in keyof EpochRecord]: EpochRecord[K] } = {
        epoch: epoch + 1,
        loss: lossSum / n,
        accuracy: correctSum / n,
        learning_rate: lr,
      };
      if (val) {
        const v = await evaluate(tf, model, val);
        record.val_loss = v.loss;
        record.val_accuracy = v.accuracy;
        if (o.patience > 0) {
          if (v.loss < best) {
            best = v.loss;
            bestEpoch = epoch + 1;
            wait = 0;
            if (o.restoreBest) {
              bestWeights?.forEach((t) => t.dispose());
              bestWeights = model.getWeights().map((t) => t.clone());
            }
          } else if (++wait >= o.patience) {
            stoppedEarly = true;
          }
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      epochSeconds.push(Number(seconds.toFixed(3)));
      history.push(record);
      ctx.log(
        `epoch ${record.epoch}/${o.epochs} loss ${record.loss.toFixed(4)} acc ${record.accuracy.toFixed(4)}` +
          (val ? ` val_loss ${record.val_loss!.toFixed(4)} val_acc ${record.val_accuracy!.toFixed(4)}` : '') +
          ` lr ${lr.toExponential(2)} ${seconds.toFixed(1)}s` +
          (stoppedEarly ? ` (early stop: no val_loss improvement for ${o.patience} epochs)` : ''),
      );
    }
    // Read before restore-best swaps the weights: a longer run continues from the last epoch's.
    const state: LoopState = {
      epoch: history.length,
      step,
      rng: rng.getState(),
      order: Int32Array.from(order),
      history: [...history],
      stoppedEarly,
      best,
      ...(bestEpoch !== undefined ? { bestEpoch } : {}),
      wait,
      weights: await readWeights(model.getWeights()),
      ...(bestWeights ? { bestWeights: await readWeights(bestWeights) } : {}),
      optimizer: await captureOptimizer(optimizer, o.optimizer),
      dropoutSeeds: dropoutLayers(model).map((layer) => layer.seed ?? null),
    };
    // With early stopping on, end on the best val-loss epoch's weights (incl. BN statistics).
    const restored = bestWeights !== undefined && bestEpoch !== history.length;
    if (restored) model.setWeights(bestWeights!);
    return { history, epochSeconds, stoppedEarly, threads: peakThreads, state, epochsTrained: history.length - firstEpoch, ...(restored && bestEpoch !== undefined ? { bestEpoch } : {}) };
  } finally {
    stepper.dispose();
    bestWeights?.forEach((t) => t.dispose());
    optimizer.dispose();
  }
}
