/** `flatten`: features → [N, D] rows for the classical models and the MLP. */
import type { StageDefinition } from './types.js';
import { mapFeatures } from './data/arrays.js';
import { loadSchema } from './schema.js';

export const flatten: StageDefinition = {
  kind: 'flatten',
  version: 1,
  description: 'Flatten each sample into one row (N x 784)',
  inputs: [{ name: 'data', required: true, description: 'a dataset artifact' }],
  schema: loadSchema('stages/flatten'),
  async run(ctx) {
    const shapes = await mapFeatures(ctx.inputs['data']!, ctx.outDir, (x) => {
      const n = x.shape[0] ?? 0;
      return { data: x.data, shape: [n, n ? x.data.length / n : 0] };
    });
    return { metrics: Object.fromEntries(Object.entries(shapes).map(([k, v]) => [`${k}_shape`, v.join('x')])) };
  },
};
