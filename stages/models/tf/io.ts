/**
 * A `tf.io.IOHandler` for a local directory. Pure @tensorflow/tfjs has no file:// handler
 * (that lives in tfjs-node), so this writes the standard tfjs layers format itself:
 * `model.json` (topology + weights manifest) and `weights.bin`, which `tf.loadLayersModel`
 * (and tfjs-node's file:// loader, and tensorflowjs_converter) read back.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { ModelFilesError } from '../../errors.js';

type IO = typeof TF.io;

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

export function directoryHandler(io: IO, dir: string): TF.io.IOHandler {
  return {
    async save(artifacts: TF.io.ModelArtifacts): Promise<TF.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelFilesError('model.json', 'binary model topologies are not supported');
      }
      const weights = io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0));
      const modelJson: TF.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? '',
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await writeFile(join(dir, WEIGHTS_BIN), new Uint8Array(weights));
      await writeFile(join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return { modelArtifactsInfo: io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights }) };
    },

    async load(): Promise<TF.io.ModelArtifacts> {
      const modelJson = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as TF.io.ModelJSON;
      return io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: TF.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const bytes = await readFile(join(dir, path));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          }
        }
        return [specs, io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}
