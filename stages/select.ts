/**
 * `select`: picks the best of several artifacts (usually every variant of a swept train stage) by a
 * validation metric and passes the winner's files on unchanged, so a pipeline can end with "evaluate
 * the best model on the test set" without looking at test data to choose.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadSchema } from './schema.js';
import { StageInputError, type JsonValue, type StageDefinition } from './types.js';

export const select: StageDefinition = {
  kind: 'select',
  version: 1,
  description: 'Pick the best candidate by a validation metric and pass its files on',
  inputs: [{ name: 'candidates', required: true, many: true, description: 'artifacts to choose from, e.g. train-cnn[*]' }],
  schema: loadSchema('stages/select'),
  async run(ctx) {
    const metric = ctx.params['metric'] as string; // schema default: val_accuracy
    const maximize = ctx.params['mode'] !== 'min';
    if (/test/i.test(metric) && ctx.params['allow_test_metric'] !== true) {
      throw new StageInputError(`select by "${metric}" would choose a model by its test-set score; use a validation metric (e.g. val_accuracy), or set allow_test_metric: true`);
    }
    const candidates = ctx.inputLists['candidates'] ?? [];
    const scored = candidates.map((c) => ({ c, value: c.metrics[metric] }));
    const missing = scored.filter((s) => typeof s.value !== 'number').map((s) => s.c.stage);
    if (missing.length) {
      const known = [...new Set(candidates.flatMap((c) => Object.entries(c.metrics).filter(([, v]) => typeof v === 'number').map(([k]) => k)))];
      throw new StageInputError(`candidates ${missing.join(', ')} have no numeric metric "${metric}"; available: ${known.join(', ')}`);
    }
    // Ties go to the first candidate in the order written, so the choice is deterministic.
    let best = scored[0];
    for (const s of scored) if (best && (maximize ? (s.value as number) > (best.value as number) : (s.value as number) < (best.value as number))) best = s;
    if (!best) throw new StageInputError('select needs at least one candidate');
    for (const file of Object.keys(best.c.files)) {
      const target = join(ctx.outDir, file);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(best.c.path(file), target);
    }
    const ranking = scored.map((s) => ({ stage: s.c.stage, [metric]: s.value as number }));
    await writeFile(join(ctx.outDir, 'selection.json'), `${JSON.stringify({ metric, mode: maximize ? 'max' : 'min', selected: best.c.stage, candidates: ranking }, null, 2)}\n`);
    ctx.log(`selected ${best.c.stage} (${metric} = ${JSON.stringify(best.value)})`);
    const metrics: Record<string, JsonValue> = { ...best.c.metrics, selected: best.c.stage, selected_by: metric };
    return { metrics };
  },
};
