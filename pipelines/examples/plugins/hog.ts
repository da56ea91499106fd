/**
 * Example plugin stage: HOG (histogram of oriented gradients) features from [N,28,28] or
 * [N,28,28,1] float images, written as flat float32 [N,D] features that `split` and `train` take.
 * It uses pipe's own array helpers (imported from the repository, so their code joins the key too).
 */
import { mapFeatures } from '../../../stages/data/arrays.js';
import { StageInputError, type StageDefinition } from '../../../stages/types.js';
import { cellHistograms } from './helpers/gradients.js';

export const hog: StageDefinition = {
  kind: 'hog',
  version: 1,
  description: 'Histogram-of-oriented-gradients features (flat float32) from normalized images',
  inputs: [{ name: 'data', required: true, description: 'normalized images, e.g. from `normalize`' }],
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      cell: { type: 'integer', minimum: 2, default: 7, description: 'cell size in pixels' },
      bins: { type: 'integer', minimum: 2, maximum: 36, default: 9, description: 'orientation bins per cell' },
    },
  },
  async run(ctx) {
    const data = ctx.inputs['data'];
    if (!data) throw new StageInputError('hog: input `data` is required');
    const cell = Number(ctx.params['cell']);
    const bins = Number(ctx.params['bins']);
    let dims = 0;
    await mapFeatures(data, ctx.outDir, (x, split) => {
      const [n = 0, h = 0, w = 0] = x.shape;
      if (!(x.data instanceof Float32Array) || x.shape.length < 3) {
        throw new StageInputError(`hog needs float32 images [N,H,W] but x_${split}.npy is ${x.dtype} [${x.shape.join(',')}]; add a \`normalize\` stage before it`);
      }
      dims = Math.floor(h / cell) * Math.floor(w / cell) * bins;
      const out = new Float32Array(n * dims);
      for (let i = 0; i < n; i++) cellHistograms(x.data, i * h * w, h, w, cell, bins, out, i * dims);
      ctx.progress({ done: n, total: n, label: split });
      return { data: out, shape: [n, dims] };
    });
    return { metrics: { features: dims } };
  },
};
