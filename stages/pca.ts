/**
 * `pca` stage: projects flat features onto their top principal components, fitted on x_train only
 * (validation and test rows are transformed, never fitted on), so any flat model can train on fewer
 * dims and the projection is cached like any stage. `svm` and `knn` also take a `pca` param that keeps
 * the projection inside the model; this stage is the shared, inspectable version.
 *
 * Files: `x_<split>.npy` float32 [N, components], labels and classes.json carried unchanged, and the
 * projection under `transform/` (`pca.json`, `pca_mean.npy`, `pca_components.npy`: docs/artifact-formats.md).
 * `train` carries `transform/` into its artifact so `pipe predict` applies the same projection.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { carry, labelFiles, readFeatures, splitsOf, writeArray } from './data/arrays.js';
import { fitPca, keptVariance, pcaTransform, savePca } from './models/pca.js';
import { loadSchema } from './schema.js';
import type { BackendName } from './tf/backend.js';
import { StageInputError, type StageDefinition } from './types.js';

export const TRANSFORM_DIR = 'transform';

export const pca: StageDefinition = {
  kind: 'pca',
  version: 1,
  description: 'Project flat features onto their top principal components (fitted on the training rows only)',
  inputs: [{ name: 'data', required: true, description: 'a split artifact with flat float features (after normalize, flatten, split)' }],
  schema: loadSchema('stages/pca'),
  usesBackend: true,
  async run(ctx) {
    const data = ctx.inputs['data']!;
    const splits = splitsOf(data);
    if (!splits.includes('train')) throw new StageInputError(`pca: ${data.stage} has no x_train.npy/y_train.npy; put pca after a \`split\` stage`);
    const components = Number(ctx.params['components']);
    const backend = ctx.backend as BackendName | undefined;
    const train = await readFeatures(data, 'train');
    if (train.shape.length !== 2 || !(train.data instanceof Float32Array)) {
      throw new StageInputError(`pca needs float32 features shaped [N,D] but ${data.stage}/x_train.npy is ${train.dtype} [${train.shape.join(',')}]; add \`normalize\` and \`flatten\` before it`);
    }
    const [n, d] = train.shape as [number, number];
    if (components > d) throw new StageInputError(`pca: components ${components} exceeds the ${d} feature dims of ${data.stage}`);
    const t0 = performance.now();
    ctx.progress({ done: 0, total: splits.length + 1, label: 'fit' });
    const fitted = await fitPca(train.data, n, d, components, { ...(backend ? { backend } : {}), signal: ctx.signal });
    const fitS = (performance.now() - t0) / 1000;
    for (const [i, split] of splits.entries()) {
      const x = split === 'train' ? train : await readFeatures(data, split);
      const rows = x.shape[0] ?? 0;
      if (x.shape.length !== 2 || x.shape[1] !== d || !(x.data instanceof Float32Array)) {
        throw new StageInputError(`pca: ${data.stage}/x_${split}.npy is ${x.dtype} [${x.shape.join(',')}], expected float32 [N,${d}] like x_train`);
      }
      await writeArray(ctx.outDir, `x_${split}.npy`, await pcaTransform(fitted, x.data, rows, backend), [rows, components]);
      ctx.progress({ done: i + 2, total: splits.length + 1, label: split });
    }
    await carry(data, ctx.outDir, labelFiles(data));
    await mkdir(join(ctx.outDir, TRANSFORM_DIR), { recursive: true });
    await savePca(join(ctx.outDir, TRANSFORM_DIR), fitted);
    const kept = keptVariance(fitted);
    ctx.log(`${d} → ${components} dims keep ${(100 * kept).toFixed(1)}% of the variance (fit ${fitS.toFixed(1)} s)`);
    return { metrics: { components, input_dims: d, kept_variance: Number(kept.toFixed(5)), fit_s: Number(fitS.toFixed(3)) } };
  },
};
