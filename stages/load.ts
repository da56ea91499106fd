/** `load`: reads the Fashion-MNIST IDX files into uint8 `.npy` arrays (images stay uint8 until `normalize`). */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeArray } from './data/arrays.js';
import { CLASS_NAMES, locateFashionMnist, RAW_MD5, type FileRole } from './data/fashion-mnist.js';
import { DataFileError, md5, parseImages, parseLabels, readMaybeGzip } from './data/idx.js';
import { loadSchema } from './schema.js';
import type { Params, StageDefinition } from './types.js';

const pathOf = (params: Params): string | undefined => (typeof params['path'] === 'string' ? params['path'] : undefined);

export const load: StageDefinition = {
  kind: 'load',
  version: 1,
  description: 'Read the Fashion-MNIST IDX files (gz or raw), check them, write uint8 arrays',
  inputs: [],
  schema: loadSchema('stages/load'),
  async fileInputs(params, access) {
    const located = await locateFashionMnist(pathOf(params), access);
    return located ? { files: located.files } : { notPresent: 'data file not present locally (pipe run fetches it)' };
  },
  async run(ctx) {
    // Located by the runner when it made the key (fileInputs above), and hashed into it.
    const fileOf = (role: FileRole): string => {
      const file = ctx.external.files[role];
      if (file === undefined) throw new Error(`load: the runner passed no ${role} file`);
      return file;
    };
    const verify = ctx.params['verify'] !== false;
    const read = async (role: FileRole): Promise<Buffer> => {
      const file = fileOf(role);
      const bytes = await readMaybeGzip(file);
      if (verify && md5(bytes) !== RAW_MD5[role]) {
        throw new DataFileError(file, `content md5 ${md5(bytes)} differs from the official ${RAW_MD5[role]}`, 'The file is damaged or is not the official Fashion-MNIST. Re-copy it, or set `verify: false` to load a different IDX dataset.');
      }
      return bytes;
    };
    const counts: Record<string, number> = {};
    for (const split of ['train', 'test'] as const) {
      const images = parseImages(await read(`${split}_images`), fileOf(`${split}_images`));
      const labels = parseLabels(await read(`${split}_labels`), fileOf(`${split}_labels`), CLASS_NAMES.length);
      if (labels.length !== images.count) {
        throw new DataFileError(fileOf(`${split}_labels`), `${labels.length} labels for ${images.count} images`, 'The images and labels files do not belong together.');
      }
      const limit = ctx.params[`${split}_limit`];
      const n = typeof limit === 'number' ? Math.min(limit, images.count) : images.count;
      await writeArray(ctx.outDir, `x_${split}.npy`, images.pixels.subarray(0, n * 784), [n, images.rows, images.cols]);
      await writeArray(ctx.outDir, `y_${split}.npy`, labels.subarray(0, n), [n]);
      counts[`${split}_count`] = n;
      ctx.progress({ done: split === 'train' ? 1 : 2, total: 2, label: 'splits' });
    }
    await writeFile(join(ctx.outDir, 'classes.json'), `${JSON.stringify(CLASS_NAMES)}\n`);
    const source = ctx.external.source ?? 'given files';
    ctx.log(`read Fashion-MNIST from the ${source}`);
    return { metrics: { ...counts, source } };
  },
};
