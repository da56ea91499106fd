/**
 * Sweep expansion: a stage with `matrix:` (cartesian product) or `foreach:` (explicit list) becomes
 * one variant per combination, named `stage[k=v,…]` with keys sorted (so key order in the file does
 * not matter); a long suffix becomes a short hash. Stages that take a swept stage as a single input
 * expand with it, keeping the same suffix; list inputs (`many`) receive every variant.
 */
import type { JsonValue } from '../../stages/types.js';
import { canonicalJson, sha256 } from '../../artifacts/hash.js';

export type Variant = Readonly<Record<string, JsonValue>>;

const MAX_SUFFIX = 48;

function formatValue(value: JsonValue): string {
  if (typeof value === 'string') return /^[\w.+-]+$/.test(value) ? value : sha256(value).slice(0, 6);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return sha256(canonicalJson(value)).slice(0, 6);
}

export function variantSuffix(variant: Variant): string {
  const keys = Object.keys(variant).sort();
  const text = keys.map((k) => `${k}=${formatValue(variant[k] ?? null)}`).join(',');
  return text.length <= MAX_SUFFIX ? text : sha256(canonicalJson(variant)).slice(0, 10);
}

/** Cartesian product of a matrix, in a stable order (keys sorted, values as written). */
export function matrixVariants(matrix: Readonly<Record<string, readonly JsonValue[]>>): Variant[] {
  let variants: Record<string, JsonValue>[] = [{}];
  for (const key of Object.keys(matrix).sort()) {
    const values = matrix[key] ?? [];
    variants = variants.flatMap((v) => values.map((value) => ({ ...v, [key]: value })));
  }
  return variants;
}

/** Splits `name[suffix]` into its parts. */
export function parseRef(ref: string): { group: string; selector?: string } {
  const match = /^([^[]+)(?:\[(.*)\])?$/.exec(ref);
  if (!match) return { group: ref };
  return match[2] === undefined ? { group: match[1] ?? ref } : { group: match[1] ?? ref, selector: match[2] };
}

/** Sets a dotted param path (`optimizer.momentum`) in a params object, returning a new object. */
export function setParam(params: Readonly<Record<string, JsonValue>>, path: string, value: JsonValue): Record<string, JsonValue> {
  const [head, ...rest] = path.split('.');
  const key = head ?? path;
  if (rest.length === 0) return { ...params, [key]: value };
  const inner = params[key];
  const base = inner && typeof inner === 'object' && !Array.isArray(inner) ? inner : {};
  return { ...params, [key]: setParam(base, rest.join('.'), value) };
}
