/**
 * A stage's cache key: a structured record hashed canonically. The whole record is stored with the
 * artifact and in run records so that a miss can be explained field by field (see `explainChange`).
 */
import type { JsonValue } from '../stages/types.js';
import { canonicalJson, sha256, type ContentHash, type KeyHash } from './hash.js';

/** Bumped only when the record's layout changes; old keys then stop matching, on purpose. */
export const KEY_FORMAT = 1;

export interface KeyRecord {
  readonly format: number;
  readonly kind: string;
  /** The stage implementation's version (and the model's, for train). */
  readonly impl: string;
  /** Resolved params, defaults included: removing a param changes the key like adding one. */
  readonly params: Readonly<Record<string, JsonValue>>;
  /** Input name → content hash of the upstream artifact (or list of them, for `many` inputs). */
  readonly inputs: Readonly<Record<string, ContentHash | readonly ContentHash[]>>;
  /** External files the stage reads (e.g. the IDX files), name → sha256. */
  readonly files: Readonly<Record<string, string>>;
  /**
   * Users' own code (plugin modules and every local file they import, exec `deps`), path relative to
   * the pipeline's repository → sha256, and `npm:<package>` → installed version. Present only for
   * plugin and exec stages, so built-in stages' keys are unchanged.
   */
  readonly code?: Readonly<Record<string, string>>;
}

export function keyHash(record: KeyRecord): KeyHash {
  return sha256(canonicalJson(record)) as KeyHash;
}

/** Why a stage is stale, as a machine-readable code plus a human-readable detail. */
export type StaleReason =
  | { readonly code: 'never-run' }
  | { readonly code: 'impl-bumped'; readonly from: string; readonly to: string }
  | { readonly code: 'kind-changed'; readonly from: string; readonly to: string }
  | { readonly code: 'param-changed'; readonly path: string; readonly from: JsonValue | undefined; readonly to: JsonValue | undefined }
  | { readonly code: 'input-changed'; readonly input: string }
  | { readonly code: 'file-changed'; readonly file: string }
  | { readonly code: 'code-changed'; readonly file: string }
  | { readonly code: 'upstream-stale'; readonly stage: string }
  | { readonly code: 'output-missing'; readonly detail: string }
  | { readonly code: 'forced' };

export function formatReason(reason: StaleReason): string {
  switch (reason.code) {
    case 'never-run':
      return 'never-run';
    case 'impl-bumped':
      return `impl-bumped ${reason.from}→${reason.to}`;
    case 'kind-changed':
      return `kind-changed ${reason.from}→${reason.to}`;
    case 'param-changed':
      return `param-changed ${reason.path} ${show(reason.from)}→${show(reason.to)}`;
    case 'input-changed':
      return `input-changed ${reason.input}`;
    case 'file-changed':
      return `file-changed ${reason.file}`;
    case 'code-changed':
      return `code-changed ${reason.file}`;
    case 'upstream-stale':
      return `upstream-stale ${reason.stage}`;
    case 'output-missing':
      return `output-missing ${reason.detail}`;
    case 'forced':
      return 'forced (--force)';
  }
}

function show(value: JsonValue | undefined): string {
  return value === undefined ? '(unset)' : JSON.stringify(value);
}

/** Lists every difference between the key a stage had last time and the one it has now. */
export function explainChange(previous: KeyRecord, current: KeyRecord): StaleReason[] {
  const reasons: StaleReason[] = [];
  if (previous.kind !== current.kind) reasons.push({ code: 'kind-changed', from: previous.kind, to: current.kind });
  if (previous.impl !== current.impl) reasons.push({ code: 'impl-bumped', from: previous.impl, to: current.impl });
  diffValues('', previous.params, current.params, reasons);
  for (const name of union(previous.inputs, current.inputs)) {
    if (canonicalJson(previous.inputs[name]) !== canonicalJson(current.inputs[name])) {
      reasons.push({ code: 'input-changed', input: name });
    }
  }
  for (const name of union(previous.files, current.files)) {
    if (previous.files[name] !== current.files[name]) reasons.push({ code: 'file-changed', file: name });
  }
  const before = previous.code ?? {};
  const now = current.code ?? {};
  for (const name of union(before, now)) {
    if (before[name] !== now[name]) reasons.push({ code: 'code-changed', file: name });
  }
  return reasons;
}

function union(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

function isPlainObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function diffValues(path: string, from: JsonValue | undefined, to: JsonValue | undefined, out: StaleReason[]): void {
  if (isPlainObject(from) && isPlainObject(to)) {
    for (const key of union(from, to)) diffValues(path ? `${path}.${key}` : key, from[key], to[key], out);
    return;
  }
  if (canonicalJson(from) !== canonicalJson(to)) out.push({ code: 'param-changed', path, from, to });
}
