/** `reshape`: features → [N, ...shape] (default [N,28,28,1] for convolutional models). */
import { StageInputError, type StageDefinition } from './types.js';
import { mapFeatures } from './data/arrays.js';
import { loadSchema } from './schema.js';

export const reshape: StageDefinition = {
  kind: 'reshape',
  version: 1,
  description: 'Reshape each sample, e.g. to 28x28x1 images for convolutional networks',
  inputs: [{ name: 'data', required: true, description: 'a dataset artifact' }],
  schema: loadSchema('stages/reshape'),
  async run(ctx) {
    const data = ctx.inputs['data']!;
    const target = (ctx.params['shape'] as number[] | undefined) ?? [28, 28, 1];
    const per = target.reduce((a, b) => a * b, 1);
    const shapes = await mapFeatures(data, ctx.outDir, (x, split) => {
      const n = x.shape[0] ?? 0;
      if (n * per !== x.data.length) throw new StageInputError(`cannot reshape x_${split}.npy of shape ${x.shape.join('x')} into N x ${target.join('x')}: each sample has ${x.data.length / Math.max(1, n)} values, not ${per}`);
      return { data: x.data, shape: [n, ...target] };
    });
    return { metrics: Object.fromEntries(Object.entries(shapes).map(([k, v]) => [`${k}_shape`, v.join('x')])) };
  },
};
