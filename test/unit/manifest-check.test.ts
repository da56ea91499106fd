/** The checks a remote manifest passes before any of its names becomes a path (artifacts/manifest-check.ts). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentHash, sha256, type ContentHash, type KeyHash } from '../../artifacts/hash.js';
import { keyHash, type KeyRecord } from '../../artifacts/key.js';
import { checkManifest, fileNameProblem, KEY_RECORD_FIELDS, MANIFEST_FIELDS } from '../../artifacts/manifest-check.js';
import { LocalStore, type Manifest } from '../../artifacts/store.js';
import { loadSchema } from '../../stages/schema.js';

const HOSTILE = [
  '',
  '.',
  '..',
  '/',
  '../x',
  '../../../../etc/passwd',
  `${'../'.repeat(12)}tmp/escaped`,
  '/tmp/pipe-escape/abs.txt',
  '//server/share/x',
  'a/../b',
  'a/..',
  'a/./b',
  './a',
  'a/.',
  'a/',
  'a//b',
  '/a',
  '..\\x',
  '\\..\\x',
  'a\\b',
  '\\\\server\\share',
  'C:x',
  'c:\\windows\\system32',
  'Z:/x',
  'a\u0000b',
  '\u0000',
  'a\nb',
  'a\rb',
  '\u001b[31mred',
  'tab\there',
  'del\u007f',
  'c1\u0085',
  'manifest.json',
  'x'.repeat(513),
  'ü'.repeat(300),
];

const FINE = ['a.txt', 'sub/b.bin', 'model/weights.bin', 'model/model.json', '.hidden', 'a..b', '...', '..a', 'a..', 'ü/ñ.npy', '%2e%2e/x', 'sub/manifest.json', 'x'.repeat(512), 'a b/c d'];

describe('fileNameProblem', () => {
  it.each(HOSTILE.map((name) => [JSON.stringify(name).slice(0, 40), name]))('refuses %s', (_, name) => {
    expect(fileNameProblem(name)).toBeTypeOf('string');
  });

  it.each(FINE)('accepts %s', (name) => {
    expect(fileNameProblem(name)).toBeUndefined();
  });

  it('refuses every name made of separators and dots, and accepts only those that stay inside', () => {
    // Every string of up to 5 characters over the alphabet that path tricks are made of.
    const alphabet = ['.', '/', '\\', 'a', ':'];
    let words = [''];
    for (let length = 1; length <= 5; length++) {
      words = words.flatMap((w) => alphabet.map((c) => w + c));
      for (const name of words) {
        const segments = name.split('/');
        const inside = !name.includes('\\') && !/^[A-Za-z]:/.test(name) && segments.every((s) => s !== '' && s !== '.' && s !== '..');
        expect(fileNameProblem(name) === undefined, name).toBe(inside);
      }
    }
  });
});

const record: KeyRecord = { format: 1, kind: 'split', impl: '1', params: { seed: 1 }, inputs: { data: sha256('up') as ContentHash }, files: {} };

function manifestWith(files: Manifest['files'], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const key = keyHash(record);
  return {
    format: 1,
    key,
    content_hash: contentHash(files),
    stage: 'split',
    pipeline: 'p',
    kind: 'split',
    key_record: record,
    inputs: { data: { stage: 'normalize', content_hash: sha256('up') } },
    files,
    metrics: { rows: 3 },
    backend: 'cpu',
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:00:01.000Z',
    duration_s: 1,
    environment: { node: 'v20' },
    ...overrides,
  };
}

const file = { sha256: sha256('x'), bytes: 1 };
const KEY = keyHash(record);

describe('checkManifest', () => {
  it('accepts a well-formed manifest filed under its own key', () => {
    const check = checkManifest(manifestWith({ 'a.txt': file, 'sub/b.bin': file }), KEY);
    expect(check).toMatchObject({ ok: true });
  });

  it.each([
    ['not an object', () => 'text', /not a valid manifest/],
    ['another format', () => manifestWith({}, { format: 2 }), /not a valid manifest/],
    ['an unknown field', () => manifestWith({}, { extra: true }), /not a valid manifest/],
    ['a missing field', () => ({ ...manifestWith({}), files: undefined }), /not a valid manifest/],
    ['a negative size', () => manifestWith({ a: { sha256: sha256('x'), bytes: -1 } }), /not a valid manifest/],
    ['a sha256 that is not one', () => manifestWith({ a: { sha256: 'abc', bytes: 1 } }), /not a valid manifest/],
    ['another key', () => manifestWith({}, { key: sha256('other') }), /names key/],
    ['a key record that hashes elsewhere', () => manifestWith({}, { key_record: { ...record, impl: '2' } }), /key record does not hash to its key/],
    ['a content hash its files do not give', () => manifestWith({ a: file }, { content_hash: sha256('nope') }), /content hash does not match/],
    ['a parent segment', () => manifestWith({ '../x': file }), /file name "\.\.\/x" has a "\.\." segment/],
    ['an absolute name', () => manifestWith({ '/tmp/x': file }), /is an absolute path/],
    ['a file that is also a folder', () => manifestWith({ a: file, 'a/b': file }), /"a" is both a file and the folder of "a\/b"/],
  ])('refuses %s', (_, make, reason) => {
    const check = checkManifest(make(), KEY);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(reason);
  });

  it('quotes hostile names so a notice cannot carry terminal escapes', () => {
    const check = checkManifest(manifestWith({ '\u001b[2J../x': file }), KEY);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).not.toContain('\u001b');
  });
});

describe('schemas/manifest.schema.json', () => {
  const schema = loadSchema('manifest') as { properties: object; required: string[]; definitions: { keyRecord: { properties: object; required: string[] } } };
  const required = (fields: Record<string, string>): string[] => Object.keys(fields).filter((k) => fields[k] === 'required').sort();

  it('declares exactly the Manifest type’s fields, required where the type requires them', () => {
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(MANIFEST_FIELDS).sort());
    expect([...schema.required].sort()).toEqual(required(MANIFEST_FIELDS));
  });

  it('declares exactly the KeyRecord type’s fields', () => {
    expect(Object.keys(schema.definitions.keyRecord.properties).sort()).toEqual(Object.keys(KEY_RECORD_FIELDS).sort());
    expect([...schema.definitions.keyRecord.required].sort()).toEqual(required(KEY_RECORD_FIELDS));
  });

  it('accepts the manifests the local store writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipe-manifest-'));
    try {
      const store = await LocalStore.open(dir);
      const key: KeyHash = keyHash(record);
      const temp = await store.createTemp(key);
      await writeFile(join(temp, 'a.txt'), 'hello');
      const manifest = await store.commit(temp, { key, stage: 's', pipeline: 'p', kind: 'split', key_record: record, inputs: {}, metrics: {}, started_at: new Date().toISOString(), duration_s: 0, environment: {} });
      expect(checkManifest(JSON.parse(JSON.stringify(manifest)), key)).toMatchObject({ ok: true });
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
