/**
 * Writes a seeded photo-like evaluation set from Fashion-MNIST TEST images (never training ones):
 *   node dist/bench/photo-set.js OUT_DIR [--count 200] [--seed 1] [--offset 0]
 * OUT_DIR gets one PNG/JPEG per image and labels.json ({ file, index, label, class, background }[]),
 * so `pipe predict MODEL OUT_DIR/*.{png,jpg} --json` can be scored against it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLASS_NAMES } from '../stages/data/fashion-mnist.js';
import { parseImages, parseLabels, readMaybeGzip } from '../stages/data/idx.js';
import { renderPhoto } from '../stages/robustness/render.js';
import { ROOT } from './cli.js';

export interface PhotoLabel {
  readonly file: string;
  readonly index: number;
  readonly label: number;
  readonly class: string;
  readonly background: string;
}

/** Renders test images offset..offset+count-1 into `dir`; returns what was written. */
export async function writePhotoSet(dir: string, options: { count: number; seed: number; offset?: number }): Promise<PhotoLabel[]> {
  const data = join(ROOT, 'data', 'fashion-mnist');
  const imagesFile = join(data, 't10k-images-idx3-ubyte.gz');
  const labelsFile = join(data, 't10k-labels-idx1-ubyte.gz');
  const images = parseImages(await readMaybeGzip(imagesFile), imagesFile);
  const labels = parseLabels(await readMaybeGzip(labelsFile), labelsFile, CLASS_NAMES.length);
  mkdirSync(dir, { recursive: true });
  const offset = options.offset ?? 0;
  const written: PhotoLabel[] = [];
  for (let index = offset; index < Math.min(images.count, offset + options.count); index++) {
    const photo = renderPhoto(images.pixels.subarray(index * 784, (index + 1) * 784), index, options.seed);
    const label = labels[index]!;
    const file = `${String(index).padStart(5, '0')}-${photo.background}.${photo.format === 'jpeg' ? 'jpg' : 'png'}`;
    writeFileSync(join(dir, file), photo.bytes);
    written.push({ file, index, label, class: CLASS_NAMES[label]!, background: photo.background });
  }
  writeFileSync(join(dir, 'labels.json'), `${JSON.stringify(written, null, 1)}\n`);
  return written;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, ''))) {
  const { values, positionals } = parseArgs({ options: { count: { type: 'string' }, seed: { type: 'string' }, offset: { type: 'string' } }, allowPositionals: true });
  const out = positionals[0];
  if (!out) {
    process.stderr.write('usage: node dist/bench/photo-set.js OUT_DIR [--count 200] [--seed 1] [--offset 0]\n');
    process.exit(2);
  }
  const written = await writePhotoSet(out, { count: Number(values.count ?? 200), seed: Number(values.seed ?? 1), offset: Number(values.offset ?? 0) });
  process.stdout.write(`${written.length} photo-like images in ${out} (labels.json)\n`);
}
