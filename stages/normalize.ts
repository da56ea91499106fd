/** `normalize`: uint8 pixels → float32, scaled to [0,1] or standardised with training-set statistics. */
import { StageInputError, type StageDefinition } from './types.js';
import { mapFeatures, readFeatures } from './data/arrays.js';
import { pixelStats } from './inspect.js';
import { loadSchema } from './schema.js';

export const normalize: StageDefinition = {
  kind: 'normalize',
  version: 1,
  description: 'Convert uint8 pixels to float32 in [0,1] (scale) or z-scores (standardize)',
  inputs: [{ name: 'data', required: true, description: 'a dataset artifact with uint8 images (load)' }],
  schema: loadSchema('stages/normalize'),
  async run(ctx) {
    const data = ctx.inputs['data']!;
    const method = ctx.params['method'] === 'standardize' ? 'standardize' : 'scale';
    let offset = 0;
    let scale = 1 / 255;
    if (method === 'standardize') {
      // Statistics from the training split only, so test data never leaks into preprocessing.
      const stats = pixelStats(await readFeatures(data, 'train'));
      offset = stats.mean;
      scale = 1 / (stats.std || 1);
    }
    const shapes = await mapFeatures(data, ctx.outDir, (x, split) => {
      if (!(x.data instanceof Uint8Array)) throw new StageInputError(`normalize expects uint8 images, but x_${split}.npy of stage ${data.stage} is ${x.dtype}; normalize only once, right after load`);
      const out = new Float32Array(x.data.length);
      for (let i = 0; i < out.length; i++) out[i] = ((x.data[i] as number) - offset) * scale;
      return { data: out, shape: x.shape };
    });
    return { metrics: { method, offset, scale, ...Object.fromEntries(Object.entries(shapes).map(([k, v]) => [`${k}_shape`, v.join('x')])) } };
  },
};
