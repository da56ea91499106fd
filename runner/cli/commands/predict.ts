/**
 * `pipe predict <model> image…`: classifies PNG/JPEG files with a trained model from the store,
 * after converting each to the dataset's form (stages/predict/preprocess.ts) and to the features
 * the model was trained on (stages/predict/classifier.ts).
 *
 * Every file gets its own line: a file that cannot be read or decoded, or shows no object, is
 * reported by name and the others are still predicted; the exit code is 1 if any file got no class.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { PNG } from 'pngjs';
import { loadClassifier, modelNameOf } from '../../../stages/predict/classifier.js';
import { preprocessImage, SIZE, type Box, type PreprocessedImage } from '../../../stages/predict/preprocess.js';
import { openReader, storeRoot, type CommonFlags } from '../context.js';
import type { Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';
import { parseCount } from '../numbers.js';
import { resolveArtifact } from './resolve-artifact.js';

export interface Preprocessing {
  readonly path: PreprocessedImage['path'];
  readonly source: PreprocessedImage['source'];
  readonly box: Box;
  readonly inverted: boolean;
  readonly background: readonly [number, number, number];
  readonly confidence: number;
  /** Where --save-preprocessed wrote the 28×28 image the model saw. */
  readonly saved?: string;
}

export type Prediction =
  | { readonly file: string; readonly status: 'ok'; readonly top: ReadonlyArray<{ readonly class: string; readonly index: number; readonly probability: number }>; readonly preprocess: Preprocessing }
  | { readonly file: string; readonly status: 'no-object'; readonly error: string; readonly preprocess: Preprocessing }
  | { readonly file: string; readonly status: 'error'; readonly error: string };

function summary(image: PreprocessedImage, saved?: string): Preprocessing {
  return { path: image.path, source: image.source, box: image.box, inverted: image.inverted, background: image.background, confidence: image.confidence, ...(saved ? { saved } : {}) };
}

/** Why a file could not be read, in words (not an errno dump). */
function readProblem(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory, not an image file';
  if (code === 'EACCES') return 'permission denied';
  return `cannot read (${(error as Error).message})`;
}

async function savePng(dir: string, file: string, pixels: Float32Array, used: Set<string>): Promise<string> {
  const stem = basename(file, extname(file));
  let name = `${stem}.png`;
  for (let k = 2; used.has(name); k++) name = `${stem}-${k}.png`;
  used.add(name);
  const png = new PNG({ width: SIZE, height: SIZE });
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = Math.round(pixels[i]! * 255);
    png.data.set([v, v, v, 255], i * 4);
  }
  const path = join(dir, name);
  await writeFile(path, PNG.sync.write(png));
  return path;
}

export async function predictCommand(
  target: string,
  images: readonly string[],
  flags: CommonFlags & { json?: boolean; top?: string; pipeline?: string; savePreprocessed?: string },
  write: Output,
): Promise<number> {
  if (images.length === 0) throw new UsageError('pipe predict needs image files: pipe predict train-cnn photo.png [more.jpg …]');
  const topK = flags.top === undefined ? 3 : parseCount(flags.top, '--top', 1);
  const root = storeRoot(flags);
  const store = await openReader(root);
  const key = await resolveArtifact(target, root, store, flags);
  const manifest = await store.readManifest(key);
  const dir = store.artifactDir(key);
  if (!manifest || modelNameOf(manifest, dir) === undefined) {
    throw new UsageError(`"${target}" (${manifest?.stage ?? key.slice(0, 12)}, kind ${manifest?.kind ?? '?'}) is not a trained model; give a train or select stage, or its artifact hash (see pipe ls)`);
  }
  const modelName = modelNameOf(manifest, dir)!;
  if (flags.savePreprocessed) await mkdir(flags.savePreprocessed, { recursive: true });

  // Each file on its own: one bad upload must not cost the others their answer.
  const results: Prediction[] = [];
  const ready: { index: number; image: PreprocessedImage }[] = [];
  const used = new Set<string>();
  for (const file of images) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      results.push({ file, status: 'error', error: readProblem(error) });
      continue;
    }
    let image: PreprocessedImage;
    try {
      image = preprocessImage(bytes, file);
    } catch (error) {
      // ImageFileError messages start with the file name; keep only the reason.
      const message = (error as Error).message;
      results.push({ file, status: 'error', error: message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message });
      continue;
    }
    const saved = flags.savePreprocessed ? await savePng(flags.savePreprocessed, file, image.pixels, used) : undefined;
    if (image.empty) {
      results.push({ file, status: 'no-object', error: 'no object found: the image is (nearly) uniform', preprocess: summary(image, saved) });
      continue;
    }
    ready.push({ index: results.length, image });
    results.push({ file, status: 'ok', top: [], preprocess: summary(image, saved) });
  }

  let backend = 'none';
  if (ready.length > 0) {
    const classifier = await loadClassifier(store, manifest);
    backend = classifier.backend;
    try {
      const proba = await classifier.predict(ready.map((r) => r.image.pixels));
      const k = proba.length / ready.length;
      ready.forEach((r, i) => {
        const row = Array.from(proba.subarray(i * k, (i + 1) * k), (probability, index) => ({ index, probability, class: classifier.classes[index] ?? String(index) }));
        row.sort((a, b) => b.probability - a.probability || a.index - b.index);
        const done = results[r.index]!;
        if (done.status === 'ok') results[r.index] = { ...done, top: row.slice(0, topK) };
      });
    } finally {
      classifier.dispose();
    }
  }

  const failed = results.filter((r) => r.status !== 'ok').length;
  if (flags.json) {
    write(`${JSON.stringify({ model: modelName, stage: manifest.stage, pipeline: manifest.pipeline, artifact: key, backend, failed, predictions: results }, null, 2)}\n`);
    return failed ? 1 : 0;
  }
  write(`${modelName} from ${manifest.pipeline}:${manifest.stage} (${key.slice(0, 12)}), backend ${backend}\n`);
  for (const r of results) {
    if (r.status === 'error') {
      write(`\n${r.file}\n  error: ${r.error}\n`);
      process.stderr.write(`pipe: ${r.file}: ${r.error}\n`);
      continue;
    }
    const p = r.preprocess;
    const notes = [p.path === 'dataset-form' ? 'already 28×28 gray: used as is' : `object ${p.box.width}×${p.box.height} at (${p.box.x},${p.box.y})`, p.inverted ? 'light background inverted' : '', `confidence ${p.confidence.toFixed(2)}`].filter(Boolean);
    write(`\n${r.file}  (${notes.join('; ')})\n`);
    if (r.status === 'no-object') {
      write(`  ${r.error}\n`);
      process.stderr.write(`pipe: ${r.file}: ${r.error}\n`);
      continue;
    }
    for (const t of r.top) write(`  ${(t.probability * 100).toFixed(1).padStart(5)}%  ${t.class}\n`);
  }
  if (failed) write(`\n${failed} of ${results.length} file(s) got no prediction\n`);
  return failed ? 1 : 0;
}
