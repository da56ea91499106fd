/**
 * Typed reads of resolved params. Defaults live only in the JSON Schemas: the runner fills them
 * (ajv useDefaults) and `withDefaults` fills them for direct callers, so no reader takes a
 * fallback value, and reading a key the caller did not declare is a type error.
 */
import type { JsonSchema, JsonValue, Params } from './types.js';

/**
 * Params with every key of K present. Only `withDefaults` makes one, so a reader given a key the
 * model did not declare (a misspelling) is a type error, and no reader needs a fallback value.
 */
export type Resolved<K extends string> = Readonly<Record<K, JsonValue>>;

/**
 * Fills missing params from the schema's `default`s, the only place defaults live. The runner
 * already did this (ajv useDefaults); doing it again serves direct callers (tests, benches).
 * `keys` are the params the code reads: each must be given or defaulted by the schema.
 */
export function withDefaults<K extends string>(schema: JsonSchema, params: Params, keys: readonly K[]): Resolved<K> {
  const out: Record<string, JsonValue> = {};
  const props = (schema['properties'] ?? {}) as Record<string, { default?: JsonValue }>;
  for (const [key, prop] of Object.entries(props)) {
    if (prop.default !== undefined) out[key] = prop.default;
  }
  for (const [key, value] of Object.entries(params)) out[key] = value;
  const missing = keys.filter((key) => !(key in out));
  if (missing.length) throw new Error(`params ${missing.join(', ')} are read by the code but have no default in the schema`);
  return out as Resolved<K>;
}

// The readers below check types only as a guard: the schema already validated every value, so a
// mismatch is a bug in pipe (an internal error), never a user mistake.
function wrong(key: string, value: JsonValue | undefined, expected: string): Error {
  return new Error(`param ${key} is ${JSON.stringify(value)}, expected ${expected} (the schema should have ensured it)`);
}

export function num<K extends string>(p: Resolved<K>, key: NoInfer<K>): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw wrong(key, v, 'a number');
  return v;
}

export function bool<K extends string>(p: Resolved<K>, key: NoInfer<K>): boolean {
  const v = p[key];
  if (typeof v !== 'boolean') throw wrong(key, v, 'a boolean');
  return v;
}

export function str<T extends string, K extends string>(p: Resolved<K>, key: NoInfer<K>, allowed: readonly T[]): T {
  const v = p[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw wrong(key, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

export function intList<K extends string>(p: Resolved<K>, key: NoInfer<K>): number[] {
  const v = p[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && x >= 1)) throw wrong(key, v, 'a list of positive numbers');
  return (v as number[]).map((x) => Math.round(x));
}
