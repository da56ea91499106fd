/**
 * The robustness artifact's files, written by the `robustness` stage and read by the report:
 * - `robustness.json`: accuracy per perturbation;
 * - `examples.json` plus `examples/<k>-{original,photo,seen}.png`: a few photo-like renderings with
 *   the test image they came from, the 28×28 image the model saw after `pipe predict`'s
 *   preprocessing, and the model's top 3.
 * One exported type and one validating reader per file: a missing or malformed field is a
 * StageInputError naming the file, never a silent default.
 */
import { readFile } from 'node:fs/promises';
import { StageInputError, type InputArtifact } from '../types.js';

export interface RobustnessResult {
  /** `clean`, a perturbation name, or `photos`. */
  readonly name: string;
  /** Images scored. */
  readonly count: number;
  readonly accuracy: number;
}

export interface RobustnessFile {
  readonly model: string;
  readonly seed: number;
  readonly results: readonly RobustnessResult[];
}

export interface PhotoExample {
  /** Test-set index of the rendered image. */
  readonly index: number;
  readonly label: number;
  /** Background kind of the rendering (stages/robustness/render.ts). */
  readonly background: string;
  /** Encoding and size of the rendering that was preprocessed (the PNG here is a thumbnail of it). */
  readonly format: 'png' | 'jpeg';
  readonly width: number;
  readonly height: number;
  /** Preprocessing's confidence that an object was found (0–1). */
  readonly confidence: number;
  /** Class indices and probabilities, most probable first. */
  readonly top: readonly { readonly class: number; readonly probability: number }[];
  /** Paths inside the artifact: the 28×28 test image, the rendering's thumbnail, the 28×28 image the model saw. */
  readonly files: { readonly original: string; readonly photo: string; readonly seen: string };
}

export interface ExamplesFile {
  readonly model: string;
  readonly seed: number;
  readonly examples: readonly PhotoExample[];
}

async function readJson(artifact: InputArtifact, file: string): Promise<unknown> {
  const text = await readFile(artifact.path(file), 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StageInputError(`${artifact.stage}/${file} is not valid JSON (${(err as Error).message})`);
  }
}

/** Field access that names the file and the field when the value is missing or of the wrong type. */
function fields(artifact: InputArtifact, file: string) {
  const fail = (where: string, what: string): never => {
    throw new StageInputError(`${artifact.stage}/${file}: ${where} must be ${what}`);
  };
  const object = (v: unknown, where: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(where, 'an object');
  const number = (v: unknown, where: string): number => (typeof v === 'number' && Number.isFinite(v) ? v : fail(where, 'a number'));
  const share = (v: unknown, where: string): number => {
    const n = number(v, where);
    return n >= 0 && n <= 1 ? n : fail(where, 'a number in [0,1]');
  };
  const count = (v: unknown, where: string): number => {
    const n = number(v, where);
    return Number.isInteger(n) && n >= 0 ? n : fail(where, 'a whole number ≥ 0');
  };
  const string = (v: unknown, where: string): string => (typeof v === 'string' && v !== '' ? v : fail(where, 'a non-empty string'));
  const array = (v: unknown, where: string): unknown[] => (Array.isArray(v) ? v : fail(where, 'an array'));
  const file_ = (v: unknown, where: string): string => {
    const f = string(v, where);
    return artifact.has(f) ? f : fail(where, `a file of the artifact (${f} is not one)`);
  };
  return { object, number, share, count, string, array, file: file_, fail };
}

export async function readRobustness(artifact: InputArtifact): Promise<RobustnessFile> {
  const file = 'robustness.json';
  const f = fields(artifact, file);
  const raw = f.object(await readJson(artifact, file), 'the file');
  const results = f.array(raw['results'], 'results').map((r, i) => {
    const o = f.object(r, `results[${i}]`);
    return { name: f.string(o['name'], `results[${i}].name`), count: f.count(o['count'], `results[${i}].count`), accuracy: f.share(o['accuracy'], `results[${i}].accuracy`) };
  });
  if (!results.length) f.fail('results', 'a non-empty array');
  return { model: f.string(raw['model'], 'model'), seed: f.number(raw['seed'], 'seed'), results };
}

/** examples.json, or undefined when the artifact has none (a version-1 artifact, or `examples: 0`). */
export async function readExamples(artifact: InputArtifact): Promise<ExamplesFile | undefined> {
  const file = 'examples.json';
  if (!artifact.has(file)) return undefined;
  const f = fields(artifact, file);
  const raw = f.object(await readJson(artifact, file), 'the file');
  const examples = f.array(raw['examples'], 'examples').map((e, i): PhotoExample => {
    const at = `examples[${i}]`;
    const o = f.object(e, at);
    const format = o['format'];
    const files = f.object(o['files'], `${at}.files`);
    return {
      index: f.count(o['index'], `${at}.index`),
      label: f.count(o['label'], `${at}.label`),
      background: f.string(o['background'], `${at}.background`),
      format: format === 'png' || format === 'jpeg' ? format : f.fail(`${at}.format`, '"png" or "jpeg"'),
      width: f.count(o['width'], `${at}.width`),
      height: f.count(o['height'], `${at}.height`),
      confidence: f.share(o['confidence'], `${at}.confidence`),
      top: f.array(o['top'], `${at}.top`).map((t, j) => {
        const p = f.object(t, `${at}.top[${j}]`);
        return { class: f.count(p['class'], `${at}.top[${j}].class`), probability: f.share(p['probability'], `${at}.top[${j}].probability`) };
      }),
      files: {
        original: f.file(files['original'], `${at}.files.original`),
        photo: f.file(files['photo'], `${at}.files.photo`),
        seen: f.file(files['seen'], `${at}.files.seen`),
      },
    };
  });
  return { model: f.string(raw['model'], 'model'), seed: f.number(raw['seed'], 'seed'), examples };
}
