/**
 * Where Fashion-MNIST comes from: the config's `path`, then $FASHION_MNIST_DIR, then the copy shipped
 * in this repo, then Debian's `dataset-fashion-mnist`, else a download into ~/.cache/pipe with md5 checks.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot } from '../schema.js';
import { StageInputError, type FileAccess } from '../types.js';
import { md5 } from './idx.js';

export const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export const FILES = {
  train_images: 'train-images-idx3-ubyte',
  train_labels: 'train-labels-idx1-ubyte',
  test_images: 't10k-images-idx3-ubyte',
  test_labels: 't10k-labels-idx1-ubyte',
} as const;
export type FileRole = keyof typeof FILES;

/** md5 of the decompressed files: identical whichever gzip wrapper (upstream or Debian) holds them. */
export const RAW_MD5: Record<FileRole, string> = {
  train_images: 'f4a8712d7a061bf5bd6d2ca38dc4d50a',
  train_labels: '9018921c3c673c538a1fc5bad174d6f9',
  test_images: '8181f5470baa50b63fa0f6fddb340f0a',
  test_labels: '15d484375f8d13e6eb1aabb0c3f46965',
};
/** md5 of the official .gz files, checked after a download. */
const GZ_MD5: Record<FileRole, string> = {
  train_images: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
  train_labels: '25c81989df183df01b3e8a0aad5dffbe',
  test_images: 'bef4ecab320f06d8554ea6380940ec79',
  test_labels: 'bb300cfdad3c16e7a12a480ee83cd310',
};
const MIRROR = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** The four files in `dir` (gz preferred, raw accepted), or the names that are missing. */
export function filesIn(dir: string): { files?: Record<FileRole, string>; missing: string[] } {
  const files = {} as Record<FileRole, string>;
  const missing: string[] = [];
  for (const [role, name] of Object.entries(FILES) as [FileRole, string][]) {
    const found = [`${name}.gz`, name].map((n) => join(dir, n)).find((p) => existsSync(p));
    if (found) files[role] = found;
    else missing.push(`${name}.gz`);
  }
  return missing.length ? { missing } : { files, missing };
}

export interface Located {
  readonly files: Record<FileRole, string>;
  readonly source: string;
}

/**
 * With `lookup`, never downloads or creates anything: `undefined` when the files would have to be
 * fetched (the download cache does not hold them yet).
 */
export async function locateFashionMnist(path: string | undefined, access: 'fetch'): Promise<Located>;
export async function locateFashionMnist(path: string | undefined, access: FileAccess): Promise<Located | undefined>;
export async function locateFashionMnist(path: string | undefined, access: FileAccess): Promise<Located | undefined> {
  if (path !== undefined) {
    const dir = resolve(path);
    const found = filesIn(dir);
    if (!found.files) throw new StageInputError(`params.path ${dir}: missing ${found.missing.join(', ')}. Put the four Fashion-MNIST IDX files there (gz or raw), or remove \`path\` to use the shipped copy.`);
    return { files: found.files, source: 'params.path' };
  }
  const env = process.env['FASHION_MNIST_DIR'];
  if (env) {
    const found = filesIn(resolve(env));
    if (!found.files) throw new StageInputError(`$FASHION_MNIST_DIR=${env}: missing ${found.missing.join(', ')}. Fix the directory or unset the variable.`);
    return { files: found.files, source: '$FASHION_MNIST_DIR' };
  }
  const places = [
    [join(packageRoot(), 'data', 'fashion-mnist'), 'repository copy'],
    ['/usr/share/datasets/fashion-mnist', 'Debian dataset-fashion-mnist'],
  ] as const;
  return locateIn(places, join(homedir(), '.cache', 'pipe', 'fashion-mnist'), access);
}

/** The first of `places` holding all four files, else the download cache (filled only with `fetch`). */
export async function locateIn(places: readonly (readonly [dir: string, source: string])[], cache: string, access: FileAccess): Promise<Located | undefined> {
  for (const [dir, source] of places) {
    const found = filesIn(dir);
    if (found.files) return { files: found.files, source };
  }
  if (access === 'lookup') {
    const cached = filesIn(cache);
    return cached.files ? { files: cached.files, source: 'download cache' } : undefined;
  }
  return { files: await download(cache), source: 'download cache' };
}

async function download(dir: string): Promise<Record<FileRole, string>> {
  const cached = filesIn(dir);
  if (cached.files) return cached.files;
  await mkdir(dir, { recursive: true });
  const files = {} as Record<FileRole, string>;
  for (const [role, name] of Object.entries(FILES) as [FileRole, string][]) {
    const target = join(dir, `${name}.gz`);
    files[role] = target;
    if (existsSync(target)) continue;
    let bytes: Uint8Array;
    try {
      const response = await fetch(`${MIRROR}${name}.gz`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw new StageInputError(
        `Fashion-MNIST not found locally and the download of ${name}.gz failed (${(error as Error).message}). ` +
          'Set `path:` in the load stage or $FASHION_MNIST_DIR to a directory with the four IDX files, or install Debian\'s dataset-fashion-mnist.',
      );
    }
    if (md5(bytes) !== GZ_MD5[role]) throw new StageInputError(`downloaded ${name}.gz has md5 ${md5(bytes)}, expected ${GZ_MD5[role]}; the download is corrupt, run again.`);
    await writeFile(`${target}.part`, bytes);
    await rename(`${target}.part`, target);
  }
  return files;
}
