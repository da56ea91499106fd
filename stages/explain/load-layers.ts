/**
 * Loads a tfjs layers model (`model.json` + the weight files its manifest names) from a directory.
 * Pure @tensorflow/tfjs has no file:// loader (that is tfjs-node's), and `explain` should not depend
 * on the model registry, so the files are read here and handed to `tf.io.fromMemory`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { ModelFilesError } from '../errors.js';

export { ModelFilesError };

const LAYERS = 'a TensorFlow.js layers model';

async function readOrFail(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (error) {
    throw new ModelFilesError(dir, `${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, LAYERS);
  }
}

export async function loadLayersFromDir(tf: typeof TF, dir: string): Promise<TF.LayersModel> {
  let json: TF.io.ModelJSON;
  try {
    json = JSON.parse((await readOrFail(dir, 'model.json')).toString('utf8')) as TF.io.ModelJSON;
  } catch (error) {
    if (error instanceof ModelFilesError) throw error;
    throw new ModelFilesError(dir, `model.json is not valid JSON: ${(error as Error).message}`, LAYERS);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new ModelFilesError(dir, 'model.json lacks modelTopology or weightsManifest', LAYERS);
  }
  const specs: TF.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const path of group.paths) {
      const bytes = await readOrFail(dir, path);
      // Copy into an exact-size ArrayBuffer: Node buffers may share a larger pool.
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
  }
  const artifacts: TF.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: tf.io.CompositeArrayBuffer.join(buffers),
    format: json.format ?? 'layers-model',
    ...(json.trainingConfig ? { trainingConfig: json.trainingConfig } : {}),
  };
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}
