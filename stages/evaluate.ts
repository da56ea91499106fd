/**
 * `evaluate` stage: reloads a trained model from its train artifact, predicts the test split in
 * batches (timed), and writes `report.json` (accuracy, per-class metrics, confusion matrix, timings),
 * `probabilities.npy` and `predictions.npy`. Formats: docs/artifact-formats.md.
 */
import { checkModelInput } from './models/input-shape.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentHash } from '../artifacts/hash.js';
import { writeNpy } from '../artifacts/npy.js';
import { classNames, readClassIndices, readFloatFeatures } from './data/arrays.js';
import { argmaxRows, classificationReport, confusionMatrix, mostConfused } from './evaluate/metrics.js';
import { getModel } from './models/index.js';
import { trainedModelName } from './models/trained-name.js';
import type { ModelDefinition } from './models/types.js';
import { loadSchema } from './schema.js';
import { StageInputError, type InputArtifact, type JsonValue, type StageDefinition } from './types.js';
import { num, withDefaults } from './params.js';

async function testFeatures(data: InputArtifact, def: ModelDefinition): Promise<{ x: Float32Array; shape: readonly number[] }> {
  const { x, shape } = await readFloatFeatures(data, 'x_test.npy', 'evaluate');
  checkModelInput(def, `${data.stage}/x_test.npy`, shape, {
    image: 'evaluate it on the split the model was trained on (after `reshape`)',
    flat: 'evaluate it on the split the model was trained on (after `flatten`)',
  });
  return { x, shape };
}

const round = (v: number, digits: number): number => Number(v.toFixed(digits));

const schema = loadSchema('stages/evaluate');

export const evaluate: StageDefinition = {
  kind: 'evaluate',
  version: 1,
  description: 'Scores a trained model on the test split: accuracy, per-class precision/recall/F1, confusion matrix, inference speed',
  inputs: [
    { name: 'model', required: true, description: 'Train artifact (params.model names the model; files under model/)' },
    { name: 'data', required: true, description: 'Split artifact with x_test.npy (float32, the shape the model was trained on) and y_test.npy' },
  ],
  schema,
  usesBackend: true,
  usesModels: true,
  async run(ctx) {
    const trainArtifact = ctx.inputs['model'];
    const data = ctx.inputs['data'];
    if (!trainArtifact || !data) throw new StageInputError('evaluate: inputs `model` (a train artifact) and `data` (a split artifact) are required');
    const name = trainedModelName(trainArtifact);
    if (name === undefined) throw new StageInputError(`evaluate: input "${trainArtifact.stage}" is not a train artifact (no params.model)`);
    const p = withDefaults(schema, ctx.params, ['batch_size', 'confused_pairs']);
    const batchSize = num(p, 'batch_size');
    const pairLimit = num(p, 'confused_pairs');
    const def = getModel(name);

    const { x, shape } = await testFeatures(data, def);
    const n = shape[0]!;
    if (n === 0) throw new StageInputError(`${data.stage}/x_test.npy has no rows`);
    const y = await readClassIndices(data, 'y_test.npy', n);
    const rowSize = shape.slice(1).reduce((a, b) => a * b, 1);

    // The model directory is every file under model/; load() reads it from the artifact in place.
    if (!Object.keys(trainArtifact.files).some((f) => f.startsWith('model/'))) {
      throw new StageInputError(`evaluate: input "${trainArtifact.stage}" has no model/ files; is it a train artifact?`);
    }
    const trained = await def.load(join(trainArtifact.dir, 'model'));
    try {
      // One-example warm-up outside the timing: first calls compile kernels, which is not inference speed.
      await trained.predictProba(x.subarray(0, rowSize), [1, ...shape.slice(1)]);
      const parts: Float32Array[] = [];
      const t0 = performance.now();
      for (let start = 0; start < n; start += batchSize) {
        ctx.signal.throwIfAborted();
        const end = Math.min(n, start + batchSize);
        parts.push(await trained.predictProba(x.subarray(start * rowSize, end * rowSize), [end - start, ...shape.slice(1)]));
        ctx.progress({ done: end, total: n, label: 'test examples' });
      }
      const predictS = (performance.now() - t0) / 1000;

      const width = parts.reduce((s, p) => s + p.length, 0);
      const k = width / n;
      if (!Number.isInteger(k) || k < 1) throw new StageInputError(`model "${name}" returned ${width} probabilities for ${n} examples`);
      const proba = new Float32Array(width);
      let offset = 0;
      for (const p of parts) {
        proba.set(p, offset);
        offset += p.length;
      }
      const maxLabel = y.reduce((m, v) => Math.max(m, v), 0);
      if (maxLabel >= k) throw new StageInputError(`y_test.npy holds class ${maxLabel} but model "${name}" predicts only ${k} classes`);
      const predictions = argmaxRows(proba, n, k);
      const confusion = confusionMatrix(y, predictions, k);
      const rep = classificationReport(confusion);
      const classes = await classNames(data, k);
      const fitS = typeof trainArtifact.metrics['fit_s'] === 'number' ? trainArtifact.metrics['fit_s'] : null;
      const imagesPerS = Math.round(n / Math.max(predictS, 1e-9));

      const report = {
        model: name,
        classes,
        accuracy: rep.accuracy,
        per_class: rep.per_class.map((c, i) => ({ class: classes[i]!, ...c })),
        macro_avg: rep.macro_avg,
        weighted_avg: rep.weighted_avg,
        confusion,
        most_confused: mostConfused(confusion, pairLimit),
        // No timings here: they vary run to run, and this file's bytes must not (they are in the
        // manifest's metrics instead, which the report reads).
        n_test: n,
        backend: trained.backend,
        // Content hash of the train artifact: lets the report pair this evaluation with its training
        // curves without relying on stage names (which are not part of cache keys).
        model_content_hash: contentHash(trainArtifact.files),
      };
      await writeFile(join(ctx.outDir, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
      await writeNpy(join(ctx.outDir, 'probabilities.npy'), proba, [n, k]);
      await writeNpy(join(ctx.outDir, 'predictions.npy'), predictions, [n]);
      ctx.log(`${name}: accuracy ${(rep.accuracy * 100).toFixed(2)}%, macro F1 ${rep.macro_avg.f1.toFixed(4)}, ${imagesPerS} images/s`);

      const metrics: Record<string, JsonValue> = {
        model: name,
        accuracy: rep.accuracy,
        macro_f1: rep.macro_avg.f1,
        predict_s: round(predictS, 4),
        images_per_s: imagesPerS,
        fit_s: fitS,
      };
      return { metrics, backend: trained.backend };
    } finally {
      trained.dispose?.();
    }
  },
};
