/**
 * Checks a manifest that came from outside this machine (a remote cache entry) before any of its
 * file names is used as a path or a byte of it is downloaded: the JSON Schema of the format
 * (schemas/manifest.schema.json, kept in step with the Manifest type by MANIFEST_FIELDS), the key
 * it is filed under, the key its own key record hashes to, the content hash its files give, and
 * every file name (see fileNameProblem). Whatever fails is a reason, never an exception: the
 * caller treats the entry as a miss.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { loadSchema } from '../stages/schema.js';
import { contentHash, type KeyHash } from './hash.js';
import { keyHash, type KeyRecord } from './key.js';
import { MANIFEST, type Manifest } from './store.js';

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type Fields<T> = { readonly [K in keyof T]-?: K extends RequiredKeys<T> ? 'required' : 'optional' };

/**
 * Every field of Manifest and whether it is required. Adding, removing or making optional a field
 * of the type fails to compile here; the unit test then holds the schema to this list, so the type
 * and the schema cannot drift apart.
 */
export const MANIFEST_FIELDS = {
  format: 'required',
  key: 'required',
  content_hash: 'required',
  stage: 'required',
  pipeline: 'required',
  kind: 'required',
  key_record: 'required',
  inputs: 'required',
  files: 'required',
  metrics: 'required',
  backend: 'optional',
  started_at: 'required',
  finished_at: 'required',
  duration_s: 'required',
  environment: 'required',
} as const satisfies Fields<Manifest>;

/** The same for KeyRecord (the schema's definitions/keyRecord). */
export const KEY_RECORD_FIELDS = {
  format: 'required',
  kind: 'required',
  impl: 'required',
  params: 'required',
  inputs: 'required',
  files: 'required',
  code: 'optional',
} as const satisfies Fields<KeyRecord>;

/** Longer names are refused: S3 object keys end at 1024 bytes, and no stage writes such names. */
const MAX_NAME_BYTES = 512;

/**
 * Why `name` cannot be an artifact file name, or undefined when it can: it must be a relative,
 * '/'-separated, normalised path that stays inside the artifact directory on every platform. So no
 * absolute path, drive letter or backslash (a separator on Windows), no empty, `.` or `..`
 * segment, no control character (they also garble terminals when a notice quotes the name), and
 * not the manifest's own name, which the store writes last over whatever is there.
 */
export function fileNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `is longer than ${MAX_NAME_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'contains a control character';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.startsWith('/')) return 'is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'starts with a drive letter';
  for (const segment of name.split('/')) {
    if (segment === '') return 'has an empty segment';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
  }
  if (name === MANIFEST) return `is ${MANIFEST}, which the store reserves`;
  return undefined;
}

export type ManifestCheck = { readonly ok: true; readonly manifest: Manifest } | { readonly ok: false; readonly reason: string };

let validate: ValidateFunction | undefined;

/** Checks `value` (parsed manifest.json) as the manifest of the entry filed under `key`. */
export function checkManifest(value: unknown, key: KeyHash): ManifestCheck {
  validate ??= new Ajv({ allErrors: false, strict: true }).compile(loadSchema('manifest'));
  if (!validate(value)) return { ok: false, reason: `not a valid manifest (${describe(validate.errors ?? [])})` };
  // The schema has just checked the shape the type declares.
  const manifest = value as Manifest;
  if (manifest.key !== key) return { ok: false, reason: `filed under ${key} but names key ${manifest.key}` };
  if (keyHash(manifest.key_record) !== key) return { ok: false, reason: 'its key record does not hash to its key' };
  const names = new Set(Object.keys(manifest.files));
  for (const name of names) {
    const problem = fileNameProblem(name);
    if (problem) return { ok: false, reason: `file name ${quote(name)} ${problem}` };
    // "a" and "a/b" cannot both be files.
    const segments = name.split('/');
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/');
      if (names.has(folder)) return { ok: false, reason: `${quote(folder)} is both a file and the folder of ${quote(name)}` };
    }
  }
  if (contentHash(manifest.files) !== manifest.content_hash) return { ok: false, reason: 'its content hash does not match its files' };
  return { ok: true, manifest };
}

/** A name from an untrusted manifest, quoted for a one-line notice (escapes, length capped). */
export function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

function describe(errors: readonly ErrorObject[]): string {
  const first = errors[0];
  if (!first) return 'unknown problem';
  // instancePath is built from the manifest's own keys (file names, say): quote it.
  return `${first.instancePath ? quote(first.instancePath) : 'the top level'} ${first.message ?? 'is invalid'}`;
}
