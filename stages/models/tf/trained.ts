/**
 * A trained tfjs LayersModel behind the `TrainedModel` contract: batched inference,
 * save/load through the directory IOHandler plus a small `pipe-model.json` sidecar.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { initTf } from '../../tf/backend.js';
import type { JsonValue } from '../../types.js';
import type { EpochRecord, TrainedModel } from '../types.js';
import { directoryHandler } from './io.js';
import { StageInputError } from '../../types.js';
import { ModelFilesError } from '../../errors.js';
import { writeCheckpoint, type LoopState } from './checkpoint.js';

export const META_JSON = 'pipe-model.json';

/** What `load` needs besides the tfjs files. */
export interface TfModelMeta {
  readonly format: 'pipe-tfjs-layers';
  readonly model: string;
  readonly version: number;
  readonly input: 'image' | 'flat';
  /** Per-sample shape, e.g. [28,28,1] or [784]. */
  readonly sample_shape: number[];
  readonly num_classes: number;
  readonly params: Record<string, JsonValue>;
  readonly history: EpochRecord[];
  readonly info: Record<string, JsonValue>;
}

/** Rows per inference call: bounds peak memory (1000×28×28×32 floats ≈ 100 MB for the first conv). */
export const PREDICT_BATCH = 1000;

/** Runs `model` in inference mode over `x` in chunks, returning row-major [N, numClasses]. */
export async function predictBatched(
  tf: typeof TF,
  model: TF.LayersModel,
  x: Float32Array,
  sampleShape: readonly number[],
  numClasses: number,
  batch = PREDICT_BATCH,
): Promise<Float32Array> {
  const rowSize = sampleShape.reduce((a, b) => a * b, 1);
  const n = Math.floor(x.length / rowSize);
  const out = new Float32Array(n * numClasses);
  for (let start = 0; start < n; start += batch) {
    const b = Math.min(batch, n - start);
    const probs = tf.tidy(() => {
      const xs = tf.tensor(x.subarray(start * rowSize, (start + b) * rowSize), [b, ...sampleShape]);
      return model.predict(xs) as TF.Tensor;
    });
    out.set(await probs.data(), start * numClasses);
    probs.dispose();
  }
  return out;
}

export class TfTrainedModel implements TrainedModel {
  readonly history: readonly EpochRecord[];
  readonly info: Record<string, JsonValue>;
  /** Present on a freshly trained model only (a loaded one has no training state). */
  readonly saveCheckpoint?: (dir: string) => Promise<{ readonly epochs: number }>;

  constructor(
    readonly tf: typeof TF,
    /** Exposed for stages that need layer internals (e.g. Grad-CAM in `explain`). */
    readonly layersModel: TF.LayersModel,
    readonly meta: TfModelMeta,
    readonly backend: string,
    /** Figures of the fit that produced this model (absent after load): metrics, never saved. */
    readonly timings?: Record<string, JsonValue> | undefined,
    /** The training's raw state after its last epoch (loop.ts), for saveCheckpoint. */
    checkpoint?: LoopState,
  ) {
    this.history = meta.history;
    this.info = meta.info;
    if (checkpoint) {
      this.saveCheckpoint = async (dir) => {
        await writeCheckpoint(dir, checkpoint);
        return { epochs: checkpoint.epoch };
      };
    }
  }

  async predictProba(x: Float32Array, shape: readonly number[]): Promise<Float32Array> {
    const sample = shape.slice(1);
    const want = this.meta.sample_shape;
    if (sample.length !== want.length || sample.some((d, i) => d !== want[i])) {
      throw new StageInputError(
        `${this.meta.model}: expected input [N,${want.join(',')}] but got [${shape.join(',')}]` +
          (this.meta.input === 'image' ? ' (use a `reshape` stage)' : ' (use a `flatten` stage)'),
      );
    }
    return predictBatched(this.tf, this.layersModel, x, sample, this.meta.num_classes);
  }

  async save(dir: string): Promise<void> {
    await this.layersModel.save(directoryHandler(this.tf.io, dir));
    await writeFile(join(dir, META_JSON), `${JSON.stringify(this.meta, null, 1)}\n`);
  }

  dispose(): void {
    this.layersModel.dispose();
  }
}

/** Counts weights (trainable and not) for the manifest. */
export function countParams(model: TF.LayersModel): number {
  return model.weights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/** Restores a model saved by `TfTrainedModel.save`, on the backend already chosen (or the best one). */
export async function loadTfModel(dir: string, expected: string): Promise<TfTrainedModel> {
  const meta = JSON.parse(await readFile(join(dir, META_JSON), 'utf8')) as TfModelMeta;
  if (meta.format !== 'pipe-tfjs-layers' || meta.model !== expected) {
    throw new ModelFilesError(dir, `holds model "${String(meta.model)}" (format ${String(meta.format)}), not "${expected}"`);
  }
  const { tf, backend } = await initTf();
  const model = await tf.loadLayersModel(directoryHandler(tf.io, dir));
  return new TfTrainedModel(tf, model, meta, backend);
}
