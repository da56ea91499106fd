/**
 * `train` stage: fits a registered model on a split artifact and saves it under `model/`,
 * with the training curves in `history.json`.
 */
import { checkModelInput } from './models/input-shape.js';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readClassIndices, readFloatFeatures } from './data/arrays.js';
import { ProbabilityScore } from './evaluate/metrics.js';
import { getModel, MODELS } from './models/index.js';
import type { Dataset, TrainedModel } from './models/types.js';
import { TRANSFORM_DIR } from './pca.js';
import { loadSchema } from './schema.js';
import { CHECKPOINT_DIR, StageInputError, type InputArtifact, type JsonValue, type Params, type StageDefinition } from './types.js';
import { installedVersions, versionLine } from './versions.js';


/** Class count: from classes.json when the split carries it, else the largest label + 1. */
function classCount(data: InputArtifact, labels: Uint8Array[]): number {
  let max = 0;
  for (const y of labels) for (const v of y) if (v > max) max = v;
  if (data.has('classes.json')) {
    const classes = JSON.parse(readFileSync(data.path('classes.json'), 'utf8')) as unknown;
    if (Array.isArray(classes) && classes.length > max) return classes.length;
  }
  return max + 1;
}

const VAL_BATCH = 1000;

/** What scoreValidation reports; the definition declares them so a plan can check a metric name. */
const VALIDATION_METRICS = ['val_accuracy', 'val_loss'] as const;

async function scoreValidation(trained: TrainedModel, val: Dataset): Promise<Record<(typeof VALIDATION_METRICS)[number], number>> {
  const n = val.y.length;
  const row = val.shape.slice(1).reduce((a, b) => a * b, 1);
  const score = new ProbabilityScore();
  for (let start = 0; start < n; start += VAL_BATCH) {
    const end = Math.min(n, start + VAL_BATCH);
    const p = await trained.predictProba(val.x.subarray(start * row, end * row), [end - start, ...val.shape.slice(1)]);
    score.add(p, val.y.subarray(start, end), p.length / (end - start));
  }
  return { val_accuracy: Number(score.accuracy.toFixed(5)), val_loss: Number(score.loss.toFixed(5)) };
}

/** The registered model `params.model` names, and the other params; undefined for an unknown name. */
function modelOf(params: Params): { def: ReturnType<typeof getModel>; rest: Params } | undefined {
  const { model: name, ...rest } = params;
  return typeof name === 'string' && Object.hasOwn(MODELS, name) ? { def: getModel(name), rest } : undefined;
}

export const train: StageDefinition = {
  kind: 'train',
  version: 2,
  description: 'Fits a model (cnn, resnet, mlp, logistic-regression, classical models) on a split artifact',
  inputs: [
    {
      name: 'data',
      required: true,
      description: 'Split artifact: x_train/y_train (and optionally x_val/y_val for validation curves); features float32',
    },
  ],
  schema: loadSchema('stages/train'),
  validationMetrics: VALIDATION_METRICS,
  // `model` picks the implementation: the runner validates the other params against the model's
  // schema and puts the model's version into the cache key.
  variant: {
    param: 'model',
    options: Object.fromEntries(
      Object.values(MODELS).map((m) => [m.name, { schema: m.schema, version: m.version, description: m.description }]),
    ),
  },
  usesBackend: true,
  usesModels: true,
  // The model says how many threads it can use (training shards, trees, class pairs).
  threads(params) {
    const { model: name, ...rest } = params;
    const fixedOne = { max: 1 };
    return typeof name === 'string' && Object.hasOwn(MODELS, name) ? (getModel(name).threads?.(rest) ?? fixedOne) : fixedOne;
  },
  checkParams(params) {
    const chosen = modelOf(params);
    return chosen?.def.checkParams?.(chosen.rest) ?? [];
  },
  // Only models that can continue a fit resume (tfjs); `model` stays in the family.
  resumePoint(keyParams) {
    const chosen = modelOf(keyParams);
    const point = chosen?.def.resumePoint?.(chosen.rest);
    return point && { ...point, family: { ...point.family, model: keyParams['model'] ?? null } };
  },
  async run(ctx) {
    const { model: name, ...params } = ctx.params;
    if (typeof name !== 'string') throw new StageInputError('train: params.model must be a model name');
    const def = getModel(name);
    const data = ctx.inputs['data'];
    if (!data) throw new StageInputError('train: input `data` is required');

    const xt = await readFloatFeatures(data, 'x_train.npy', 'train');
    checkModelInput(def, 'x_train.npy', xt.shape, { image: 'add a `reshape` stage (to [N,28,28,1]) before train', flat: 'add a `flatten` stage before train' });
    const n = xt.shape[0]!;
    const yt = await readClassIndices(data, 'y_train.npy', n);
    let xv: { x: Float32Array; shape: readonly number[] } | undefined;
    let yv: Uint8Array | undefined;
    if (data.has('x_val.npy')) {
      xv = await readFloatFeatures(data, 'x_val.npy', 'train');
      if (xv.shape.length !== xt.shape.length || xv.shape.slice(1).some((d, i) => d !== xt.shape[i + 1])) {
        throw new StageInputError(`x_val.npy is [${xv.shape.join(',')}] but x_train.npy is [${xt.shape.join(',')}]`);
      }
      yv = await readClassIndices(data, 'y_val.npy', xv.shape[0]!);
    }
    const numClasses = classCount(data, yv ? [yt, yv] : [yt]);
    const trainSet: Dataset = { x: xt.x, shape: xt.shape, y: yt, numClasses };
    const valSet: Dataset | undefined = xv && yv ? { x: xv.x, shape: xv.shape, y: yv, numClasses } : undefined;

    ctx.log(`training ${name} on ${n} examples${valSet ? ` (validation ${valSet.y.length})` : ''}`);
    // The runner verified the checkpoint artifact's files against its manifest (runner/execute/resume.ts).
    const resume = ctx.resume?.artifact.has(`${CHECKPOINT_DIR}/state.json`) ? { dir: join(ctx.resume.artifact.dir, CHECKPOINT_DIR), epochs: ctx.resume.progress } : undefined;
    const t0 = performance.now();
    const trained = await def.fit(trainSet, valSet, params, {
      signal: ctx.signal,
      progress: (done, total, label) => ctx.progress(label === undefined ? { done, total } : { done, total, label }),
      log: (m) => ctx.log(m),
      ...(ctx.backend ? { backend: ctx.backend } : {}),
      ...(resume ? { resume } : {}),
      // A getter: the scheduler may lend the training more threads, or take them back, as it runs.
      get threads() {
        return ctx.threads;
      },
    });
    try {
      const fitS = (performance.now() - t0) / 1000;
      const modelDir = join(ctx.outDir, 'model');
      await mkdir(modelDir, { recursive: true });
      await trained.save(modelDir);
      const history = trained.history ?? [];
      await writeFile(join(ctx.outDir, 'history.json'), `${JSON.stringify(history, null, 1)}\n`);
      // The raw state after the last epoch, so a longer training of the same params can go on from it.
      const checkpoint = trained.saveCheckpoint ? await trained.saveCheckpoint(join(ctx.outDir, CHECKPOINT_DIR)) : undefined;
      // Class names travel with the model so `pipe predict` can name its answers.
      if (data.has('classes.json')) await copyFile(data.path('classes.json'), join(ctx.outDir, 'classes.json'));
      // So does any feature transform the data went through (a `pca` stage), for the same reason.
      for (const file of Object.keys(data.files).filter((f) => f.startsWith(`${TRANSFORM_DIR}/`))) {
        await mkdir(dirname(join(ctx.outDir, file)), { recursive: true });
        await copyFile(data.path(file), join(ctx.outDir, file));
      }
      const epochsRun = history.length;
      // Scored on the final model for every model kind, so `select` and `pipe best` can compare
      // variants by a validation metric without touching the test set.
      const validation = valSet ? await scoreValidation(trained, valSet) : undefined;
      const metrics: Record<string, JsonValue> = {
        model: name,
        fit_s: Number(fitS.toFixed(3)),
        // Images processed per second of training: every epoch this fit trained counts (a resumed fit
        // trained fewer than epochs_run; 1 pass for non-iterative models).
        train_images_per_s: Math.round((n * Math.max(1, typeof trained.timings?.['epochs_trained'] === 'number' ? trained.timings['epochs_trained'] : epochsRun)) / Math.max(fitS, 1e-9)),
        epochs_run: epochsRun,
        backend: trained.backend,
        // Installed versions of tfjs, its backends, libsvm-js and node: what computed this model.
        versions: versionLine(installedVersions()),
        ...(validation ?? {}),
        ...(trained.info ?? {}),
        ...(trained.timings ?? {}),
      };
      return { metrics, backend: trained.backend, ...(checkpoint ? { checkpoint: { progress: checkpoint.epochs } } : {}) };
    } finally {
      trained.dispose?.();
    }
  },
};
