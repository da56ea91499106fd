/**
 * Reads the report's input artifacts into plain view models (no HTML here).
 *
 * Evaluations are paired with trainings (for the curves) by, in order:
 *   1. content: evaluate's report.json records `model_content_hash`, the content hash of the train
 *      artifact it scored; it equals contentHash(training.files) of exactly that training. Robust to
 *      sweeps, renames and list order, since it is the identity the cache itself uses.
 *   2. model name: the one remaining training whose params.model equals the evaluation's model.
 *   3. position: when both lists have the same length, the training at the same index (only if its
 *      model name agrees), as written in the pipeline file.
 */
import { readFile } from 'node:fs/promises';
import { contentHash } from '../../artifacts/hash.js';
import { readNpy, type NpyArray } from '../../artifacts/npy.js';
import { mostConfused, type ClassMetrics, type ConfusedPair } from '../evaluate/metrics.js';
import type { EpochRecord } from '../models/types.js';
import type { SplitStats } from '../inspect.js';
import { StageInputError, type InputArtifact } from '../types.js';

/** A recorded string, or the fallback when it is absent or not a string (a number prints as written). */
function textOf(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : fallback;
}

export type { SplitStats } from '../inspect.js';

export interface InspectView {
  readonly artifact: InputArtifact;
  readonly classes: string[];
  readonly splits: Record<string, SplitStats>;
  readonly histogram: { split: string; counts: number[] };
  /** Class-major sample grid from samples.npy (uint8 [n,h,w]) with its labels. */
  readonly samples?: { images: Uint8Array; labels: Uint8Array; height: number; width: number };
}

export interface EvalReport {
  model: string;
  classes: string[];
  accuracy: number;
  per_class: (ClassMetrics & { class: string })[];
  macro_avg: ClassMetrics;
  weighted_avg: ClassMetrics;
  confusion: number[][];
  most_confused: ConfusedPair[];
  n_test: number;
  backend?: string;
  model_content_hash?: string;
}

export interface Misclassified {
  readonly index: number;
  readonly label: number;
  readonly predicted: number;
  readonly probability: number;
  readonly image: { gray: Uint8Array; height: number; width: number };
}

export interface ModelView {
  readonly evaluation: InputArtifact;
  readonly report: EvalReport;
  /** Short display name: the model name, or the stage name when several evaluations share a model. */
  label: string;
  training?: InputArtifact;
  matchedBy?: 'content hash' | 'model name' | 'position';
  history: EpochRecord[];
  misclassified: Misclassified[];
  /** Why there are no misclassified examples, when there is a reason worth telling. */
  misclassifiedNote?: string;
}

export interface GradcamExample {
  test_index: number;
  label: number;
  predicted: number;
  correct: boolean;
  class_index_explained: number;
  probability?: number;
}

export interface ExplainView {
  readonly artifact: InputArtifact;
  readonly model: string;
  readonly layer: string;
  readonly classes?: string[];
  readonly examples: GradcamExample[];
  readonly images?: NpyArray;
  readonly heatmaps?: NpyArray;
  readonly classMeans?: NpyArray;
}

async function json<T>(artifact: InputArtifact, file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(artifact.path(file), 'utf8')) as T;
  } catch (err) {
    if (err instanceof StageInputError) throw err;
    throw new StageInputError(`report: ${artifact.stage}/${file} is not valid JSON (${(err as Error).message})`);
  }
}

const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export async function loadInspect(artifact: InputArtifact): Promise<InspectView> {
  const stats = await json<{ classes?: string[]; splits?: Record<string, SplitStats>; histogram?: { split: string; counts: number[] } }>(artifact, 'stats.json');
  let samples: InspectView['samples'];
  if (artifact.has('samples.npy') && artifact.has('sample_labels.npy')) {
    const images = await readNpy(artifact.path('samples.npy'));
    const labels = await readNpy(artifact.path('sample_labels.npy'));
    if (images.data instanceof Uint8Array && labels.data instanceof Uint8Array && images.shape.length === 3) {
      samples = { images: images.data, labels: labels.data, height: images.shape[1]!, width: images.shape[2]! };
    }
  }
  return {
    artifact,
    classes: (stats.classes ?? []).map(String),
    splits: stats.splits ?? {},
    histogram: stats.histogram ?? { split: 'train', counts: [] },
    ...(samples ? { samples } : {}),
  };
}

/** report.json with every field the report uses; older/partial files get safe defaults. */
export async function loadEvalReport(artifact: InputArtifact): Promise<EvalReport> {
  const raw = await json<Partial<EvalReport>>(artifact, 'report.json');
  const confusion = Array.isArray(raw.confusion) ? raw.confusion : [];
  const model = typeof raw.model === 'string' ? raw.model : textOf(artifact.metrics['model'], artifact.stage);
  const zero = { precision: 0, recall: 0, f1: 0, support: 0 };
  return {
    model,
    classes: (raw.classes ?? []).map(String),
    accuracy: numOrNull(raw.accuracy) ?? 0,
    per_class: raw.per_class ?? [],
    macro_avg: raw.macro_avg ?? zero,
    weighted_avg: raw.weighted_avg ?? zero,
    confusion,
    most_confused: raw.most_confused ?? mostConfused(confusion),
    n_test: numOrNull(raw.n_test) ?? 0,
    ...(typeof raw.backend === 'string' ? { backend: raw.backend } : {}),
    ...(typeof raw.model_content_hash === 'string' ? { model_content_hash: raw.model_content_hash } : {}),
  };
}

const modelOf = (a: InputArtifact): unknown => a.params['model'] ?? a.metrics['model'];

/** Pairs each evaluation with its training (see the module comment); `undefined` where none fits. */
export function matchTrainings(
  evaluations: readonly { report: Pick<EvalReport, 'model' | 'model_content_hash'> }[],
  trainings: readonly InputArtifact[],
): ({ training: InputArtifact; by: NonNullable<ModelView['matchedBy']> } | undefined)[] {
  const used = new Set<number>();
  const out: ({ training: InputArtifact; by: NonNullable<ModelView['matchedBy']> } | undefined)[] = evaluations.map(() => undefined);
  const hashes = trainings.map((t) => contentHash(t.files));
  evaluations.forEach((e, i) => {
    const j = hashes.findIndex((h, k) => !used.has(k) && h === e.report.model_content_hash);
    if (j >= 0) {
      used.add(j);
      out[i] = { training: trainings[j]!, by: 'content hash' };
    }
  });
  evaluations.forEach((e, i) => {
    if (out[i]) return;
    const candidates = trainings.map((t, k) => k).filter((k) => !used.has(k) && modelOf(trainings[k]!) === e.report.model);
    const stillOpen = evaluations.filter((o, m) => !out[m] && o.report.model === e.report.model).length;
    if (candidates.length === 1 && stillOpen === 1) {
      used.add(candidates[0]!);
      out[i] = { training: trainings[candidates[0]!]!, by: 'model name' };
    }
  });
  if (trainings.length === evaluations.length) {
    evaluations.forEach((e, i) => {
      const t = trainings[i]!;
      if (!out[i] && !used.has(i) && (modelOf(t) === undefined || modelOf(t) === e.report.model)) {
        used.add(i);
        out[i] = { training: t, by: 'position' };
      }
    });
  }
  return out;
}

export async function loadHistory(training: InputArtifact): Promise<EpochRecord[]> {
  if (!training.has('history.json')) return [];
  const history = await json<unknown>(training, 'history.json');
  return Array.isArray(history) ? (history as EpochRecord[]) : [];
}

/** Test images of a split artifact, shared by every model's misclassified examples. */
export interface TestSet {
  readonly artifact: InputArtifact;
  readonly x: NpyArray;
  readonly y: Uint8Array;
  readonly side: number;
}

export async function loadTestSet(artifact: InputArtifact): Promise<TestSet | undefined> {
  if (!artifact.has('x_test.npy') || !artifact.has('y_test.npy')) return undefined;
  const x = await readNpy(artifact.path('x_test.npy'));
  const y = await readNpy(artifact.path('y_test.npy'));
  const n = x.shape[0] ?? 0;
  const rowSize = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const side = Math.round(Math.sqrt(rowSize));
  if (side * side !== rowSize || y.data.length !== n) return undefined; // not square images: nothing to draw
  return { artifact, x, y: Uint8Array.from(y.data), side };
}

/**
 * The most confident mistakes (highest predicted probability first, then test index), drawn from the
 * test set only when it is the one the model was scored on (same size and same class counts).
 */
export async function loadMisclassified(evaluation: InputArtifact, report: EvalReport, test: TestSet, limit: number): Promise<{ items: Misclassified[]; note?: string }> {
  if (limit <= 0) return { items: [] };
  if (!evaluation.has('predictions.npy')) return { items: [], note: 'no predictions.npy in the evaluation' };
  const predictions = (await readNpy(evaluation.path('predictions.npy'))).data;
  const n = test.y.length;
  const counts = report.confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const testCounts = counts.map(() => 0);
  for (const label of test.y) testCounts[label] = (testCounts[label] ?? 0) + 1;
  if (predictions.length !== n || testCounts.some((c, i) => c !== counts[i])) {
    return { items: [], note: `the data input (${test.artifact.stage}) is not the test set this model was evaluated on` };
  }
  const k = report.confusion.length;
  const proba = evaluation.has('probabilities.npy') ? (await readNpy(evaluation.path('probabilities.npy'))).data : undefined;
  const wrong: { index: number; p: number }[] = [];
  for (let i = 0; i < n; i++) {
    const predicted = predictions[i]!;
    if (predicted !== test.y[i]) wrong.push({ index: i, p: proba && proba.length === n * k ? proba[i * k + predicted]! : 0 });
  }
  wrong.sort((a, b) => b.p - a.p || a.index - b.index);
  const size = test.side * test.side;
  const floats = test.x.dtype === 'float32' || test.x.dtype === 'float64';
  const items = wrong.slice(0, limit).map(({ index, p }) => {
    const raw = test.x.data.subarray(index * size, (index + 1) * size);
    const gray = new Uint8Array(size);
    for (let j = 0; j < size; j++) gray[j] = Math.max(0, Math.min(255, Math.round(floats ? raw[j]! * 255 : raw[j]!)));
    return { index, label: test.y[index]!, predicted: predictions[index]!, probability: p, image: { gray, height: test.side, width: test.side } };
  });
  return { items };
}

export async function loadExplain(artifact: InputArtifact): Promise<ExplainView> {
  const g = await json<{ model?: string; layer?: string; classes?: string[]; examples?: GradcamExample[] }>(artifact, 'gradcam.json');
  const npy = async (file: string): Promise<NpyArray | undefined> => (artifact.has(file) ? readNpy(artifact.path(file)) : undefined);
  const images = await npy('images.npy');
  const heatmaps = await npy('heatmaps.npy');
  const classMeans = await npy('class_mean_heatmaps.npy');
  return {
    artifact,
    model: textOf(g.model, textOf(artifact.metrics['model'], artifact.stage)),
    layer: textOf(g.layer, textOf(artifact.metrics['layer'], '')),
    ...(Array.isArray(g.classes) ? { classes: g.classes.map(String) } : {}),
    examples: Array.isArray(g.examples) ? g.examples : [],
    ...(images ? { images } : {}),
    ...(heatmaps ? { heatmaps } : {}),
    ...(classMeans ? { classMeans } : {}),
  };
}
