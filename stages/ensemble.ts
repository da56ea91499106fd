/**
 * `ensemble` stage: combines several trained models (train or select artifacts) into one model
 * artifact laid out like train's (model/, classes.json, history.json), so it is usable wherever a
 * train artifact is. Its validation accuracy is scored the way train scores it, so `select` and
 * `pipe best` can compare it with single models. Layout and input form: stages/models/ensemble.ts.
 */
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readClassIndices, readFloatFeatures } from './data/arrays.js';
import { ProbabilityScore } from './evaluate/metrics.js';
import { ENSEMBLE_FILE, ENSEMBLE_TTAS, loadMembers, averageProba, type EnsembleFile } from './models/ensemble.js';
import { getModel } from './models/index.js';
import { trainedModelName } from './models/trained-name.js';
import { withDefaults } from './params.js';
import { TRANSFORM_DIR } from './pca.js';
import { loadSchema } from './schema.js';
import { StageInputError, type InputArtifact, type JsonValue, type StageDefinition } from './types.js';

const schema = loadSchema('stages/ensemble');
const VAL_BATCH = 1000;

function classesOf(member: InputArtifact): string[] | undefined {
  if (!member.has('classes.json')) return undefined;
  const classes = JSON.parse(readFileSync(member.path('classes.json'), 'utf8')) as unknown;
  return Array.isArray(classes) ? classes.map(String) : undefined;
}

/** Weights summing to 1; `validation` needs every member's val_accuracy (train records it when its split has x_val). */
function weightsOf(members: readonly InputArtifact[], weighting: EnsembleFile['weighting']): number[] {
  if (weighting === 'mean') return members.map(() => 1 / members.length);
  const scores = members.map((m) => {
    const v = m.metrics['val_accuracy'];
    if (typeof v !== 'number') {
      throw new StageInputError(`ensemble: member "${m.stage}" has no val_accuracy metric (train it on a split with validation data), so weighting: validation cannot weigh it; use weighting: mean`);
    }
    return v;
  });
  const total = scores.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new StageInputError('ensemble: every member has val_accuracy 0; use weighting: mean');
  return scores.map((s) => s / total);
}

export const ensemble: StageDefinition = {
  kind: 'ensemble',
  version: 1,
  description: 'Averages (plainly or weighted by validation accuracy) the class probabilities of several trained models',
  inputs: [
    { name: 'models', required: true, many: true, description: 'train or select artifacts (or other ensembles), e.g. [train-cnn, train-resnet, train-svm]' },
    { name: 'data', required: true, description: 'split artifact whose x_val.npy/y_val.npy (28×28 images, [N,28,28,1] or [N,784]) score the ensemble' },
  ],
  schema,
  usesBackend: true,
  usesModels: true,
  async run(ctx) {
    const members = ctx.inputLists['models'] ?? [];
    const data = ctx.inputs['data'];
    if (!data) throw new StageInputError('ensemble: input `data` (a split artifact with x_val.npy) is required');
    if (members.length < 2) throw new StageInputError(`ensemble: input \`models\` needs at least 2 trained models, got ${members.length}`);
    const p = withDefaults(schema, ctx.params, ['weighting', 'tta']);
    const weighting = p.weighting === 'mean' ? 'mean' : 'validation';
    const tta = ENSEMBLE_TTAS.find((t) => t === p.tta) ?? 'none';

    // Every member must be a trained model of the registry and name the same classes.
    const names = members.map((m) => {
      const name = trainedModelName(m);
      if (name === undefined || !Object.keys(m.files).some((f) => f.startsWith('model/'))) {
        throw new StageInputError(`ensemble: member "${m.stage}" (${m.kind}) is not a trained model (no params.model and model/ files); list train, select or ensemble stages`);
      }
      getModel(name);
      return name;
    });
    const first = classesOf(members[0]!);
    for (const m of members.slice(1)) {
      const c = classesOf(m);
      if (first && c && (c.length !== first.length || c.some((v, i) => v !== first[i]))) {
        throw new StageInputError(`ensemble: member "${m.stage}" has ${c.length} classes (${c.join(', ')}) but "${members[0]!.stage}" has ${first.length} (${first.join(', ')}); members must predict the same classes`);
      }
    }
    if (!data.has('x_val.npy')) throw new StageInputError(`ensemble: "${data.stage}" has no x_val.npy; give a split with validation data (split's validation > 0)`);
    const val = await readFloatFeatures(data, 'x_val.npy', 'ensemble');
    const n = val.shape[0]!;
    const y = await readClassIndices(data, 'y_val.npy', n);
    const maxLabel = y.reduce((a, b) => Math.max(a, b), 0);
    const classes = first?.length ?? maxLabel + 1;

    // Copy each member's model (and its feature transform) so the artifact is self-contained.
    const weights = weightsOf(members, weighting);
    const modelDir = join(ctx.outDir, 'model');
    const entries: EnsembleFile['members'][number][] = [];
    for (const [i, m] of members.entries()) {
      const dir = `members/${i}`;
      for (const file of Object.keys(m.files).filter((f) => f.startsWith('model/') || f.startsWith(`${TRANSFORM_DIR}/`))) {
        const target = join(modelDir, dir, file);
        await mkdir(dirname(target), { recursive: true });
        await copyFile(m.path(file), target);
      }
      entries.push({ model: names[i]!, dir, weight: Number(weights[i]!.toFixed(6)) });
    }
    const saved: EnsembleFile = { weighting, tta, classes, members: entries };
    await writeFile(join(modelDir, ENSEMBLE_FILE), `${JSON.stringify(saved, null, 1)}\n`);
    if (first) await copyFile(members[0]!.path('classes.json'), join(ctx.outDir, 'classes.json'));
    await writeFile(join(ctx.outDir, 'history.json'), '[]\n');

    // Validation accuracy and loss, as train scores them, loading the members from the copies just written.
    const loaded = await loadMembers(modelDir, saved, getModel);
    try {
      const row = val.shape.slice(1).reduce((a, b) => a * b, 1);
      const score = new ProbabilityScore();
      for (let start = 0; start < n; start += VAL_BATCH) {
        ctx.signal.throwIfAborted();
        const end = Math.min(n, start + VAL_BATCH);
        const proba = await averageProba(loaded, val.x.subarray(start * row, end * row), [end - start, ...val.shape.slice(1)], classes, (i) => `"${members[i]!.stage}"`, tta);
        score.add(proba, y.subarray(start, end), classes);
        ctx.progress({ done: end, total: n, label: 'validation examples' });
      }
      const valAccuracy = Number(score.accuracy.toFixed(5));
      ctx.log(`ensemble of ${names.join(', ')} (${weighting}): val_accuracy ${valAccuracy}`);
      const metrics: Record<string, JsonValue> = {
        model: 'ensemble',
        members: members.map((m) => m.stage),
        weights: entries.map((e) => e.weight),
        weighting,
        tta,
        val_accuracy: valAccuracy,
        val_loss: Number(score.loss.toFixed(5)),
        // The members' training time: what the ensemble cost to fit (evaluate reports fit_s).
        fit_s: Number(members.reduce((s, m) => s + (typeof m.metrics['fit_s'] === 'number' ? m.metrics['fit_s'] : 0), 0).toFixed(3)),
      };
      const backend = [...new Set(loaded.map((m) => m.trained.backend))].join('+');
      return { metrics, backend };
    } finally {
      for (const m of loaded) m.trained.dispose?.();
    }
  },
};
