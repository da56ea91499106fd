/**
 * Search sweeps (`search:` on a stage): a seeded random sample of a param space, turned into
 * ordinary sweep variants. Pure: no I/O, no clock, no Math.random — the same block gives the same
 * trials on every machine.
 *
 * Rules (docs/sweeps.md states them for users):
 * - one mulberry32 stream seeded with `seed`; each draw takes one number per space key, keys in
 *   sorted order, so the order of keys in the file does not matter;
 * - trial i is the i-th distinct draw of that stream: it depends on the seed and the space, never on
 *   `samples`, so raising `samples` keeps every earlier trial (same names, same cache keys);
 * - a draw equal to an earlier one is dropped and the stream drawn again, so `samples: N` gives N
 *   distinct trials; a space with fewer than N distinct points is refused instead;
 * - floats are rounded to SIGNIFICANT_DIGITS significant digits (then clamped into [min, max]), so
 *   names and keys are short and last-bit differences of Math.exp/log cannot change a trial.
 */
import type { JsonValue } from '../../stages/types.js';
import { Rng } from '../../stages/models/tf/prng.js';
import { canonicalJson } from '../../artifacts/hash.js';
import type { Variant } from './expand.js';
import type { JsonPath } from './source.js';

/** Significant digits sampled floats keep: 0.001234, 0.3127. */
export const SIGNIFICANT_DIGITS = 4;

/** Draws allowed per requested sample before giving up on finding distinct ones. */
const DRAWS_PER_SAMPLE = 100;

export interface RangeDimension {
  readonly min: number;
  readonly max: number;
  /** Log-uniform: equal probability per decade (min > 0). */
  readonly log: boolean;
  /** Whole numbers from min to max, both included. */
  readonly integer: boolean;
}

/** A list is a uniform choice among its values; an object a range. */
export type SearchDimension = readonly JsonValue[] | RangeDimension;

/** The `search:` block after schema validation (schema defaults filled in). */
export interface SearchSpec {
  readonly strategy: 'random' | 'asha';
  readonly samples: number;
  readonly seed: number;
  readonly space: Readonly<Record<string, SearchDimension>>;
  // asha's settings (runner/config/asha.ts); the schema requires them with strategy: asha.
  readonly resource?: string;
  readonly min?: number;
  readonly max?: number;
  readonly eta?: number;
  readonly metric?: string;
  readonly mode?: 'max' | 'min';
}

export interface SearchProblem {
  /** Relative to the `search:` block. */
  readonly path: JsonPath;
  /** Point at the key rather than the value. */
  readonly part?: 'key' | 'value';
  readonly message: string;
  readonly hint?: string;
}

function isRange(dimension: SearchDimension): dimension is RangeDimension {
  return !Array.isArray(dimension);
}

/** Number of distinct values a dimension can take, or Infinity for a continuous range. */
function sizeOf(dimension: SearchDimension): number {
  if (!isRange(dimension)) return new Set(dimension.map((v) => canonicalJson(v))).size;
  if (dimension.min === dimension.max) return 1;
  return dimension.integer ? dimension.max - dimension.min + 1 : Infinity;
}

/** Problems the schema cannot express: bounds that contradict each other, a space too small. */
export function checkSearch(spec: SearchSpec): SearchProblem[] {
  const problems: SearchProblem[] = [];
  for (const [key, dimension] of Object.entries(spec.space)) {
    if (!isRange(dimension)) continue;
    const path = ['space', key];
    if (dimension.min > dimension.max) {
      problems.push({ path: [...path, 'min'], message: `search space "${key}": min ${dimension.min} is greater than max ${dimension.max}`, hint: 'swap min and max' });
    }
    if (dimension.log && dimension.min <= 0) {
      problems.push({ path: [...path, 'min'], message: `search space "${key}": log: true needs min > 0, got ${dimension.min}`, hint: 'a log-uniform range spans decades from min to max: give a positive min such as 1e-5, or drop log: true' });
    }
    if (dimension.integer && !(Number.isInteger(dimension.min) && Number.isInteger(dimension.max))) {
      problems.push({ path, message: `search space "${key}": integer: true needs whole-number min and max, got ${dimension.min} and ${dimension.max}`, hint: 'write the range with whole numbers, or drop integer: true' });
    }
  }
  if (problems.length) return problems;
  const size = Object.values(spec.space).reduce((n, d) => n * sizeOf(d), 1);
  if (size < spec.samples) {
    problems.push({
      path: ['samples'],
      message: `search asks for ${spec.samples} samples, but its space holds only ${size} distinct trials`,
      hint: `lower samples to ${size}, or use matrix: to try every combination`,
    });
  }
  return problems;
}

function roundFloat(value: number, min: number, max: number): number {
  const rounded = Number(value.toPrecision(SIGNIFICANT_DIGITS));
  // Rounding can step just outside a bound written with more digits (max 0.123456 → 0.1235).
  return Math.min(max, Math.max(min, rounded));
}

/** One value of a dimension from a uniform number u in [0, 1). */
function pick(dimension: SearchDimension, u: number): JsonValue {
  if (!isRange(dimension)) return dimension[Math.floor(u * dimension.length)] ?? null;
  const { min, max, log, integer } = dimension;
  if (integer) {
    // Log-uniform over [min, max + 1), floored, so every whole number in range can come up.
    const raw = log ? Math.exp(Math.log(min) + u * (Math.log(max + 1) - Math.log(min))) : min + u * (max - min + 1);
    return Math.min(max, Math.floor(raw));
  }
  const raw = log ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))) : min + u * (max - min);
  return roundFloat(raw, min, max);
}

/**
 * The trials of a checked spec (checkSearch found nothing), in draw order; `undefined` when the
 * stream ran out of draws before finding `samples` distinct ones (a continuous range so narrow that
 * rounding leaves few values).
 */
export function sampleTrials(spec: SearchSpec): Variant[] | undefined {
  const rng = new Rng(spec.seed);
  const keys = Object.keys(spec.space).sort();
  const seen = new Set<string>();
  const trials: Variant[] = [];
  for (let draws = 0; trials.length < spec.samples; draws++) {
    if (draws >= spec.samples * DRAWS_PER_SAMPLE) return undefined;
    const trial: Record<string, JsonValue> = {};
    // Every key consumes exactly one number, whatever its kind, so trials stay aligned with the stream.
    for (const key of keys) trial[key] = pick(spec.space[key] ?? [], rng.next());
    const id = canonicalJson(trial);
    if (seen.has(id)) continue;
    seen.add(id);
    trials.push(trial);
  }
  return trials;
}
