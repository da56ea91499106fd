/**
 * One registry view per pipeline: the built-in stage kinds and models plus those of the pipeline's
 * `plugins:` modules. Every plugin problem (path leaving the repository, missing module, nothing
 * valid exported, malformed definition, schema that does not compile, name clash) is a located
 * diagnostic on the `plugins:` entry; none shows a stack trace.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { STAGES } from '../../stages/index.js';
import { MODELS } from '../../stages/models/index.js';
import type { ModelDefinition } from '../../stages/models/types.js';
import type { JsonSchema, StageDefinition } from '../../stages/types.js';
import { PipelineInvalidError, type Diagnostic, type Location } from '../diagnostics.js';
import { validatorFor } from '../config/schema-check.js';
import type { ParsedSource } from '../config/source.js';
import { collectDefinitions, importPlugin } from './import.js';
import { errorMessage } from '../../stages/errors.js';

export interface RegistryView {
  readonly stages: Readonly<Record<string, StageDefinition>>;
  readonly models: Readonly<Record<string, ModelDefinition>>;
  /** Absolute module path per plugin stage kind / plugin model name (whose code joins the key). */
  readonly stageModules: ReadonlyMap<string, string>;
  readonly modelModules: ReadonlyMap<string, string>;
  /** Absolute paths of all plugin modules, in the order written. */
  readonly modules: readonly string[];
}

/** The nearest folder at or above `dir` (links resolved) holding `.git`; else `dir` itself. */
export function repositoryAround(dir: string): string {
  const start = realpathSync(resolve(dir));
  for (let at = start; ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return at;
    if (dirname(at) === at) return start;
  }
}

/** The repository a pipeline file's code paths are relative to (also a worker's default --repo). */
export function repoRootOf(pipelineFile: string): string {
  return repositoryAround(dirname(realpathSync(resolve(pipelineFile))));
}

/** The `plugins:` entries as written (non-strings are left to the pipeline schema check). */
export function pluginEntries(source: ParsedSource): string[] {
  const data = source.data as { plugins?: unknown } | null;
  return Array.isArray(data?.plugins) ? data.plugins.filter((p): p is string => typeof p === 'string') : [];
}

/** train's `model` choice, widened with plugin models, so validation and the key see them like built-ins. */
export function trainWith(models: Readonly<Record<string, ModelDefinition>>): StageDefinition {
  const train = STAGES['train'] as StageDefinition;
  if (!train.variant) return train;
  const options = { ...train.variant.options };
  for (const m of Object.values(models)) options[m.name] = { schema: m.schema, version: m.version, description: m.description };
  return { ...train, variant: { ...train.variant, options } };
}

const STAGE_FIELDS = ['kind', 'version', 'description', 'inputs', 'schema', 'run'] as const;
const MODEL_FIELDS = ['name', 'version', 'description', 'input', 'schema', 'fit', 'load'] as const;
const NAME = /^[a-z][a-z0-9_-]*$/;

/** What is wrong with an exported definition's shape, or undefined. */
function shapeProblem(value: Record<string, unknown>, type: 'stage' | 'model'): string | undefined {
  const fields = type === 'stage' ? STAGE_FIELDS : MODEL_FIELDS;
  const missing = fields.filter((f) => value[f] === undefined);
  if (missing.length) return `is missing ${missing.join(', ')} (a ${type} definition has ${fields.join(', ')})`;
  const id = value[type === 'stage' ? 'kind' : 'name'];
  if (typeof id !== 'string' || !NAME.test(id)) return `${type === 'stage' ? 'kind' : 'name'} must be lower-case letters, digits, '-' or '_' (got ${JSON.stringify(id)})`;
  if (!Number.isInteger(value['version']) || (value['version'] as number) < 1) return `version must be a positive integer (got ${JSON.stringify(value['version'])})`;
  if (typeof value['description'] !== 'string') return 'description must be a string';
  if (typeof value['schema'] !== 'object' || value['schema'] === null) return 'schema must be a JSON Schema object';
  if (type === 'stage') {
    if (typeof value['run'] !== 'function') return 'run must be a function';
    const inputs = value['inputs'];
    if (!Array.isArray(inputs) || !inputs.every((i) => typeof i === 'object' && i !== null && typeof (i as { name?: unknown }).name === 'string' && typeof (i as { required?: unknown }).required === 'boolean')) {
      return 'inputs must be a list of { name, required, description }';
    }
  } else {
    if (typeof value['fit'] !== 'function' || typeof value['load'] !== 'function') return 'fit and load must be functions';
    if (value['input'] !== 'image' && value['input'] !== 'flat') return `input must be "image" or "flat" (got ${JSON.stringify(value['input'])})`;
  }
  try {
    // Compiled as the planner will validate params with it (and kept for that).
    validatorFor(value['schema'] as JsonSchema);
  } catch (error) {
    return `schema does not compile: ${(error as Error).message}`;
  }
  return undefined;
}

/** First line of a loader error, with pipe's own frames left out (the user needs the cause, not a stack). */
function firstLine(error: unknown): string {
  return errorMessage(error).split('\n')[0] ?? 'unknown error';
}

export async function loadRegistry(source: ParsedSource, repoRoot: string): Promise<RegistryView> {
  const entries = pluginEntries(source);
  if (!entries.length) return { stages: STAGES, models: MODELS, stageModules: new Map(), modelModules: new Map(), modules: [] };
  const diagnostics: Diagnostic[] = [];
  const at = (index: number): { location?: Location } => {
    const location = source.locate(['plugins', index]);
    return location ? { location } : {};
  };
  const stages: Record<string, StageDefinition> = { ...STAGES };
  const models: Record<string, ModelDefinition> = { ...MODELS };
  const stageModules = new Map<string, string>();
  const modelModules = new Map<string, string>();
  const owner = new Map<string, string>(); // "stage:x" / "model:x" → the entry that defined it
  const modules: string[] = [];
  const base = dirname(resolve(source.file.path));
  const root = realpathSync(repoRoot);

  for (const [index, written] of entries.entries()) {
    const file = isAbsolute(written) ? written : resolve(base, written);
    if (!existsSync(file) || !statSync(file).isFile()) {
      diagnostics.push({ severity: 'error', message: `plugin ${written}: no such file (${file})`, hint: 'plugin paths are relative to the pipeline file', ...at(index) });
      continue;
    }
    const real = realpathSync(file);
    if (real !== root && !real.startsWith(root + sep)) {
      diagnostics.push({ severity: 'error', message: `plugin ${written} is outside the pipeline's repository (${root})`, hint: 'keep plugin modules inside the repository, so their code is versioned with the pipeline', ...at(index) });
      continue;
    }
    let found;
    try {
      found = collectDefinitions(await importPlugin(real));
    } catch (error) {
      diagnostics.push({ severity: 'error', message: `plugin ${written} failed to load: ${firstLine(error)}`, hint: 'fix the module so that it imports cleanly', ...at(index) });
      continue;
    }
    if (!found.stages.length && !found.models.length) {
      diagnostics.push({
        severity: 'error',
        message: `plugin ${written} exports no stage or model definition`,
        hint: 'export an object with kind, version, description, inputs, schema, run (a stage) or name, version, description, input, schema, fit, load (a model)',
        ...at(index),
      });
      continue;
    }
    modules.push(real);
    for (const [type, list] of [['stage', found.stages], ['model', found.models]] as const) {
      for (const { exportName, value } of list) {
        const problem = shapeProblem(value, type);
        if (problem) {
          diagnostics.push({ severity: 'error', message: `plugin ${written}: export ${exportName} ${problem}`, ...at(index) });
          continue;
        }
        const id = String(value[type === 'stage' ? 'kind' : 'name']);
        const builtIn = type === 'stage' ? Object.hasOwn(STAGES, id) : Object.hasOwn(MODELS, id);
        const previous = owner.get(`${type}:${id}`);
        if (builtIn || previous !== undefined) {
          diagnostics.push({
            severity: 'error',
            message: `plugin ${written}: ${type} ${type === 'stage' ? 'kind' : 'name'} "${id}" is already defined by ${builtIn ? 'pipe itself' : `plugin ${previous ?? ''}`}`,
            hint: `rename the plugin's ${type}`,
            ...at(index),
          });
          continue;
        }
        owner.set(`${type}:${id}`, written);
        if (type === 'stage') {
          stages[id] = value as unknown as StageDefinition;
          stageModules.set(id, real);
        } else {
          models[id] = value as unknown as ModelDefinition;
          modelModules.set(id, real);
        }
      }
    }
  }
  if (diagnostics.length) throw new PipelineInvalidError(diagnostics);
  if (modelModules.size) stages['train'] = trainWith(models);
  return { stages, models, stageModules, modelModules, modules };
}

/**
 * For worker threads: plugin models join the model registry that `train`, `evaluate` and `explain`
 * look up. A worker thread runs one stage and has its own module instances, so this changes nothing
 * outside that thread.
 */
export function installModels(models: readonly ModelDefinition[]): void {
  for (const m of models) if (!Object.hasOwn(MODELS, m.name)) MODELS[m.name] = m;
}
