/**
 * `search: { strategy: asha }` (asynchronous successive halving): the checks of its settings only.
 * Executing it — training rungs with a growing resource and promoting the best 1/eta — is not
 * built yet, so resolve.ts refuses every pipeline that uses it after these checks have run: such a
 * file is never run as some other strategy. Pure: no I/O.
 */
import type { JsonSchema, JsonValue, Params } from '../../stages/types.js';
import { didYouMean } from '../diagnostics.js';
import { checkSchema } from './schema-check.js';
import type { SearchProblem, SearchSpec } from './search.js';

/** Keys of a search block that only asha reads. */
const ASHA_KEYS = ['resource', 'min', 'max', 'eta', 'metric', 'mode'] as const;

export interface AshaSettings {
  readonly resource: string;
  readonly min: number;
  readonly max: number;
  readonly eta: number;
  readonly metric: string;
  readonly mode: 'max' | 'min';
}

/** asha's settings of a schema-checked block (the schema requires them and fills eta and mode). */
export function ashaSettings(spec: SearchSpec): AshaSettings | undefined {
  if (spec.strategy !== 'asha') return undefined;
  const { resource = '', min = 1, max = 1, eta = 3, metric = '', mode = 'max' } = spec;
  return { resource, min, max, eta, metric, mode };
}

/**
 * What the block alone shows. `written` are the keys as written in the file: the schema fills
 * asha's defaults (eta, mode) into every block, so the filled copy cannot tell what the user wrote.
 */
export function checkAshaBlock(spec: SearchSpec, written: readonly string[]): SearchProblem[] {
  const asha = ashaSettings(spec);
  if (!asha) {
    return ASHA_KEYS.filter((key) => written.includes(key)).map((key) => ({
      path: [key],
      part: 'key',
      message: `search key "${key}" is for strategy: asha; strategy ${spec.strategy} takes strategy, samples, seed and space`,
      hint: `remove ${key}, or use strategy: asha`,
    }));
  }
  const problems: SearchProblem[] = [];
  if (asha.min > asha.max) problems.push({ path: ['min'], message: `asha min ${asha.min} is greater than max ${asha.max}`, hint: 'min is the first rung\'s resource, max the last\'s: swap them' });
  if (asha.resource in spec.space) {
    problems.push({ path: ['space', asha.resource], part: 'key', message: `asha sets "${asha.resource}" itself (it is the resource, from min to max); it cannot also be sampled`, hint: `remove ${asha.resource} from space` });
  }
  return problems;
}

/**
 * What needs the stage's own schema: the resource is an integer param that accepts min and max,
 * and the metric is one the stage reports. `params` are a trial's validated params.
 */
export function checkAshaStage(asha: AshaSettings, kind: string, schema: JsonSchema, params: Params, metrics: readonly string[] | undefined): SearchProblem[] {
  const problems: SearchProblem[] = [];
  const known = Object.keys((schema['properties'] as Record<string, unknown> | undefined) ?? {});
  if (!known.includes(asha.resource)) {
    problems.push({ path: ['resource'], message: `asha resource "${asha.resource}" is not a param of ${kind}.${didYouMean(asha.resource, known)}`, hint: 'name an integer param the stage grows per rung, such as epochs' });
  } else {
    // Asked of the param's own schema (refs and bounds included): it must take min and max, and
    // refuse the fractions just inside them.
    const accepts = (value: JsonValue): boolean => checkSchema(schema, { ...params, [asha.resource]: value }).problems.length === 0;
    const hint = 'the resource must be an integer param (such as epochs) whose range holds min and max';
    if (!accepts(asha.min) || !accepts(asha.max)) {
      problems.push({ path: ['resource'], message: `asha resource "${asha.resource}" of ${kind} does not accept min ${asha.min} and max ${asha.max}`, hint });
    } else if (accepts(asha.min + 0.5) || accepts(asha.max - 0.5)) {
      problems.push({ path: ['resource'], message: `asha resource "${asha.resource}" is not an integer param of ${kind}`, hint });
    }
  }
  // A kind that declares no validation metrics (a plugin's) can only be checked when it runs.
  if (metrics !== undefined && !metrics.includes(asha.metric)) {
    problems.push({ path: ['metric'], message: `asha metric "${asha.metric}" is not reported by ${kind}.${didYouMean(asha.metric, metrics)}`, hint: `${kind} reports ${metrics.join(', ')}` });
  }
  return problems;
}
