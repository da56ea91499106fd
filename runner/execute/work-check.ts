/**
 * The key record is the work. A stage job arrives as plain data (from this run, or as JSON from
 * Redis written by anyone who can reach it), and the artifact it makes is committed under its key.
 * So what the stage runs is derived from the key record alone: its kind and version, its params
 * (the record's key params with the schema's defaults filled in again), its backend. Every other
 * field of the job that could change what runs must agree with what the record derives, or the job
 * is refused by name: otherwise a job could run one thing and commit it under another thing's key.
 *
 * Pure: `pipe run`'s stage threads and `pipe worker`'s use this one rule (worker-entry.ts).
 */
import { canonicalJson, type KeyHash } from '../../artifacts/hash.js';
import { keyHash, type KeyRecord } from '../../artifacts/key.js';
import { UserError } from '../../stages/errors.js';
import type { JsonValue, Params, StageDefinition } from '../../stages/types.js';
import { keyParamsOf, schemaFor } from '../config/resolve.js';
import { checkSchema } from '../config/schema-check.js';

/** The key param that carries the backend of stages that use one (runner/execute/keys.ts). */
export const BACKEND_PARAM = '__backend';

/** A job that disagrees with its own key record, naming the field. Never retried (ON_WORKER_FAILURE). */
export class JobRefusedError extends UserError {
  readonly reason = 'job-refused';
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`job refused, ${field}: ${detail}`);
  }
}

/** What a job claims it will run, beside the record that names its key. */
export interface ClaimedWork {
  readonly key: KeyHash;
  readonly keyRecord: KeyRecord;
  readonly kind: string;
  readonly params: Params;
  readonly backend?: string;
}

/** What the stage runs, derived from the key record. */
export interface DerivedWork {
  readonly params: Params;
  /** The backend the record names; undefined for stages that use none. */
  readonly backend?: string;
}

/** The first path at which two JSON values differ ("" when the values themselves differ), or undefined. */
export function firstDifference(a: JsonValue | undefined, b: JsonValue | undefined, path = ''): string | undefined {
  const isObject = (v: JsonValue | undefined): v is Record<string, JsonValue> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const found = firstDifference(a[key], b[key], path ? `${path}.${key}` : key);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return canonicalJson(a) === canonicalJson(b) ? undefined : path;
}

const show = (value: JsonValue | undefined): string => (value === undefined ? '(unset)' : JSON.stringify(value));

/**
 * Derives the work from `claimed.keyRecord` with `definition` (the kind's, as this process knows
 * it), or throws JobRefusedError naming the first field that disagrees.
 */
export function deriveWork(definition: StageDefinition, claimed: ClaimedWork): DerivedWork {
  const record = claimed.keyRecord;
  if (keyHash(record) !== claimed.key) throw new JobRefusedError('key', `${String(claimed.key).slice(0, 12)} is not the hash of the job's key record`);
  if (claimed.kind !== record.kind) throw new JobRefusedError('kind', `the job runs ${claimed.kind}, its key record names ${record.kind}`);
  if (definition.kind !== record.kind) throw new JobRefusedError('kind', `this process has no stage kind ${record.kind}`);

  const { [BACKEND_PARAM]: recordBackend, ...keyParams } = record.params;
  const chosen = schemaFor(definition, keyParams);
  if ('unknown' in chosen) throw new JobRefusedError(`params.${chosen.unknown.variant.param}`, `unknown choice ${show(chosen.unknown.choice)}`);
  if (chosen.impl !== record.impl) {
    throw new JobRefusedError('impl', `this process runs ${chosen.impl}, the key was made for ${record.impl} (give every machine the same pipe version)`);
  }
  const { value: params, problems } = checkSchema(chosen.schema, keyParams);
  if (problems.length) throw new JobRefusedError(`params${problems[0]?.path.length ? `.${problems[0].path.join('.')}` : ''}`, problems[0]?.message ?? 'invalid');
  // Filling defaults back in must give the record's key params again (defaults omitted at default).
  const drift = firstDifference(keyParamsOf(chosen.schema, params), keyParams);
  if (drift !== undefined) throw new JobRefusedError(`params.${drift}`, 'the key record does not hold the key params of its own params');
  const [cross] = definition.checkParams?.(params) ?? [];
  if (cross) throw new JobRefusedError(`params.${cross.path.join('.')}`, cross.message);
  const claimedDiff = firstDifference(claimed.params, params);
  if (claimedDiff !== undefined) {
    const at = (p: Params): JsonValue | undefined => claimedDiff.split('.').reduce<JsonValue | undefined>((v, k) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v[k] : undefined), p);
    throw new JobRefusedError(`params${claimedDiff ? `.${claimedDiff}` : ''}`, `the job says ${show(at(claimed.params))}, its key record ${show(at(params))}`);
  }

  if (definition.usesBackend !== true) {
    if (recordBackend !== undefined) throw new JobRefusedError('backend', `${record.kind} uses no backend, but its key record names ${show(recordBackend)}`);
    return { params };
  }
  if (typeof recordBackend !== 'string') throw new JobRefusedError('backend', `the key record of a ${record.kind} stage names no backend`);
  if (claimed.backend !== undefined && claimed.backend !== recordBackend) throw new JobRefusedError('backend', `the job asks for ${claimed.backend}, its key record names ${recordBackend}`);
  return { params, backend: recordBackend };
}
