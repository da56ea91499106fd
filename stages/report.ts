/**
 * `report` stage: one self-contained `report.html` from whatever artifacts it is given. Sections
 * appear only when their inputs do: dataset (inspect), one per model (evaluations, with curves from
 * trainings and mistakes from data), comparison (evaluations), sweep (variants of swept stages), Grad-CAM (explanations),
 * robustness and photos (robustness artifacts), run facts.
 * The output is a pure function of the inputs: rendering twice gives identical bytes.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { comparisonSection } from './report/comparison.js';
import { datasetSection } from './report/dataset.js';
import { factsSection, type RoleArtifact } from './report/facts.js';
import { gradcamSection } from './report/gradcam.js';
import type { Section } from './report/html.js';
import {
  loadEvalReport,
  loadExplain,
  loadHistory,
  loadInspect,
  loadMisclassified,
  loadTestSet,
  matchTrainings,
  type ModelView,
} from './report/load.js';
import { modelSection } from './report/model.js';
import { renderPage } from './report/page.js';
import { loadPhotos, photosSection, type PhotosView } from './report/photos.js';
import { robustnessSection, type RobustnessView } from './report/robustness.js';
import { sweepSection } from './report/sweep.js';
import { readExamples, readRobustness } from './robustness/format.js';
import { loadSchema } from './schema.js';
import type { InputArtifact, Params, StageDefinition } from './types.js';

export interface ReportInputs {
  readonly inspect?: InputArtifact;
  readonly evaluations?: readonly InputArtifact[];
  readonly trainings?: readonly InputArtifact[];
  readonly explanations?: readonly InputArtifact[];
  readonly robustness?: readonly InputArtifact[];
  readonly data?: InputArtifact;
}

const intParam = (params: Params, name: string, fallback: number): number => {
  const v = params[name];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fallback;
};

/** Builds the report HTML (exported for tests: no StageContext needed). */
export async function buildReport(inputs: ReportInputs, params: Params, log: (m: string) => void = () => {}): Promise<string> {
  const sections: Section[] = [];
  const facts: RoleArtifact[] = [];
  const evaluations = inputs.evaluations ?? [];
  const trainings = inputs.trainings ?? [];
  const explanations = inputs.explanations ?? [];

  let classes: string[] = [];
  if (inputs.inspect) {
    const view = await loadInspect(inputs.inspect);
    classes = view.classes;
    sections.push(datasetSection(view, intParam(params, 'samples_per_class', 10)));
    facts.push({ role: 'inspect', artifact: inputs.inspect });
  }

  const reports = await Promise.all(evaluations.map((e) => loadEvalReport(e)));
  const matches = matchTrainings(reports.map((report) => ({ report })), trainings);
  const test = inputs.data ? await loadTestSet(inputs.data) : undefined;
  const misLimit = intParam(params, 'misclassified', 8);
  const views: ModelView[] = [];
  for (let i = 0; i < evaluations.length; i++) {
    const report = reports[i]!;
    const match = matches[i];
    const view: ModelView = { evaluation: evaluations[i]!, report, label: report.model, history: [], misclassified: [] };
    if (match) {
      view.training = match.training;
      view.matchedBy = match.by;
      view.history = await loadHistory(match.training);
    } else if (trainings.length) {
      log(`report: no training matches evaluation ${evaluations[i]!.stage} (model ${report.model}); its curves are left out`);
    }
    if (test) {
      const mis = await loadMisclassified(evaluations[i]!, report, test, misLimit);
      view.misclassified = mis.items;
      if (mis.note) view.misclassifiedNote = mis.note;
    }
    views.push(view);
  }
  // Model names label the charts unless several evaluations share one (a sweep): then stage names.
  const counts = new Map<string, number>();
  for (const v of views) counts.set(v.report.model, (counts.get(v.report.model) ?? 0) + 1);
  for (const v of views) if ((counts.get(v.report.model) ?? 0) > 1) v.label = v.evaluation.stage;
  if (!classes.length) classes = views[0]?.report.classes ?? [];

  if (views.length) sections.push(comparisonSection(views));
  const sweep = sweepSection(views);
  if (sweep) sections.push(sweep);
  const confused = intParam(params, 'confused_pairs', 5);
  views.forEach((v, i) => sections.push(modelSection(v, i, confused)));
  views.forEach((v) => facts.push({ role: 'evaluation', artifact: v.evaluation, ...(v.report.backend ? { backend: v.report.backend } : {}) }));
  trainings.forEach((t) => facts.push({ role: 'training', artifact: t }));

  if (explanations.length) {
    const explained = await Promise.all(explanations.map((e) => loadExplain(e)));
    sections.push(gradcamSection(explained, classes, intParam(params, 'gradcam_examples', 40)));
    explanations.forEach((e) => facts.push({ role: 'explanation', artifact: e }));
  }
  const robust = inputs.robustness ?? [];
  if (robust.length) {
    const files = await Promise.all(robust.map((r) => readRobustness(r)));
    const shared = new Map<string, number>();
    for (const f of files) shared.set(f.model, (shared.get(f.model) ?? 0) + 1);
    const rviews: RobustnessView[] = files.map((file, i) => ({ artifact: robust[i]!, file, label: (shared.get(file.model) ?? 0) > 1 ? robust[i]!.stage : file.model }));
    sections.push(robustnessSection(rviews));
    const photos: PhotosView[] = [];
    for (const v of rviews) {
      const examples = await readExamples(v.artifact);
      if (examples?.examples.length) photos.push(await loadPhotos(v.artifact, v.label, examples));
    }
    if (photos.length) sections.push(photosSection(photos, classes));
    robust.forEach((r) => facts.push({ role: 'robustness', artifact: r }));
  }
  if (inputs.data) facts.push({ role: 'data', artifact: inputs.data });
  if (facts.length) sections.push(factsSection(facts, params));

  const title = typeof params['title'] === 'string' && params['title'] ? params['title'] : 'Pipeline report';
  const description = typeof params['description'] === 'string' ? params['description'] : undefined;
  const subtitle = [
    inputs.inspect ? 'dataset' : '',
    views.length ? `${views.length} model${views.length === 1 ? '' : 's'}` : '',
    explanations.length ? `${explanations.length} Grad-CAM explanation${explanations.length === 1 ? '' : 's'}` : '',
    robust.length ? `${robust.length} robustness evaluation${robust.length === 1 ? '' : 's'}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return renderPage({ title, ...(description ? { description } : {}), subtitle: subtitle || 'no inputs', sections });
}

export const report: StageDefinition = {
  kind: 'report',
  version: 3, // 3: robustness and photos sections
  description: 'Self-contained HTML report: dataset overview, per-model results, comparison, Grad-CAM, robustness, photos, run facts',
  inputs: [
    { name: 'inspect', required: false, description: 'inspect artifact: dataset overview section' },
    { name: 'evaluations', required: false, many: true, description: 'evaluate artifacts: one section per model plus the comparison' },
    {
      name: 'trainings',
      required: false,
      many: true,
      description: 'train artifacts for the training curves, paired with evaluations by content hash (then model name, then position)',
    },
    { name: 'explanations', required: false, many: true, description: 'explain artifacts: Grad-CAM section' },
    { name: 'robustness', required: false, many: true, description: 'robustness artifacts: robustness section (accuracy per perturbation) and photos section (examples)' },
    { name: 'data', required: false, description: 'split artifact whose x_test/y_test the models were evaluated on: misclassified examples' },
  ],
  schema: loadSchema('stages/report'),
  publish: { file: 'report.html', dir: 'reports', ext: '.html' },
  async run(ctx) {
    const html = await buildReport(
      {
        ...(ctx.inputs['inspect'] ? { inspect: ctx.inputs['inspect'] } : {}),
        ...(ctx.inputs['data'] ? { data: ctx.inputs['data'] } : {}),
        evaluations: ctx.inputLists['evaluations'] ?? [],
        trainings: ctx.inputLists['trainings'] ?? [],
        explanations: ctx.inputLists['explanations'] ?? [],
        robustness: ctx.inputLists['robustness'] ?? [],
      },
      ctx.params,
      (m) => ctx.log(m),
    );
    const bytes = Buffer.byteLength(html);
    await writeFile(join(ctx.outDir, 'report.html'), html);
    ctx.log(`report.html: ${(bytes / 1e6).toFixed(2)} MB`);
    return { metrics: { bytes } };
  },
};
