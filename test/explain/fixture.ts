/** Fake upstream artifacts in temp directories, for running stages without the runner. */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { encodeNpy, type NpyData } from '../../artifacts/npy.js';
import { StageInputError, type InputArtifact, type JsonValue, type Params, type StageContext } from '../../stages/types.js';

function listFiles(dir: string, root = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, root) : [relative(root, full)];
  });
}

export function artifact(stage: string, kind: string, dir: string, params: Params = {}): InputArtifact {
  const files = Object.fromEntries(listFiles(dir).map((f) => [f, { sha256: '', bytes: statSync(join(dir, f)).size }]));
  return {
    stage,
    kind,
    dir,
    files,
    metrics: {},
    params,
    has: (file) => file in files,
    path(file) {
      if (!(file in files)) throw new StageInputError(`stage "${stage}" has no output file ${file}`);
      return join(dir, file);
    },
  };
}

export function writeNpyFile(dir: string, name: string, data: NpyData, shape: number[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), encodeNpy(data, shape));
}

/** Saves a LayersModel as model.json + weights.bin (the standard tfjs layers format). */
export async function saveModel(tf: typeof TF, model: TF.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(weights));
      writeFileSync(
        join(dir, 'model.json'),
        JSON.stringify({ modelTopology: artifacts.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['./weights.bin'], weights: artifacts.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

export function context(inputs: Record<string, InputArtifact>, params: Record<string, JsonValue>, outDir: string): StageContext & { logs: string[] } {
  const logs: string[] = [];
  mkdirSync(outDir, { recursive: true });
  return {
    stage: 'explain',
    params,
    inputs,
    inputLists: {},
    outDir,
    signal: new AbortController().signal,
    threads: 1,
    external: { files: {} },
    progress: () => {},
    log: (m) => logs.push(m),
    backend: 'cpu',
    logs,
  };
}
