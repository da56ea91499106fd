import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, parseContentHash, parseKeyHash, type ContentHash, type KeyHash } from '../../artifacts/hash.js';

/** A stand-in content hash (the key only hashes it). */
const ch = (text: string): ContentHash => text as ContentHash;
import { explainChange, formatReason, keyHash, type KeyRecord } from '../../artifacts/key.js';

const record = (params: KeyRecord['params'], inputs: KeyRecord['inputs'] = { data: ch('abc') }): KeyRecord => ({ format: 1, kind: 'train', impl: 'train@1+cnn@1', params, inputs, files: {} });

describe('cache keys', () => {
  it('are independent of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } })).toBe('{"a":{"c":[3,{"e":2,"f":1}],"d":2},"b":1}');
    expect(keyHash(record({ a: 1, b: 2 }))).toBe(keyHash(record({ b: 2, a: 1 })));
  });

  it('change when a param is added, removed or changed', () => {
    const base = keyHash(record({ epochs: 5 }));
    expect(keyHash(record({ epochs: 6 }))).not.toBe(base);
    expect(keyHash(record({ epochs: 5, lr: 0.1 }))).not.toBe(base);
    expect(keyHash(record({}))).not.toBe(base);
  });

  it('explain every difference', () => {
    const reasons = explainChange(record({ epochs: 5, opt: { lr: 1 } }, { data: ch('a') }), { ...record({ epochs: 10, opt: { lr: 2 }, extra: true }, { data: ch('b') }), impl: 'train@2+cnn@1' });
    expect(reasons.map(formatReason)).toEqual(['impl-bumped train@1+cnn@1→train@2+cnn@1', 'param-changed epochs 5→10', 'param-changed extra (unset)→true', 'param-changed opt.lr 1→2', 'input-changed data']);
  });

  it('content hashes depend on names and bytes only', () => {
    expect(contentHash({ b: { sha256: '2' }, a: { sha256: '1' } })).toBe(contentHash({ a: { sha256: '1' }, b: { sha256: '2' } }));
    expect(contentHash({ a: { sha256: '1' } })).not.toBe(contentHash({ b: { sha256: '1' } }));
  });

  it('golden key: a refactor that changes keys must bump an impl version', () => {
    expect(keyHash(record({ epochs: 5 }))).toBe('8f8b752e67bb05150ddbcce8755e9af5d786b055417f646e9e766f695d91394c');
  });
});

describe('branded hashes', () => {
  it('are minted only from the form of a sha256; a plain string is not one (checked by tsc)', () => {
    const hex = 'a'.repeat(64);
    expect(parseKeyHash(hex)).toBe(hex);
    expect(parseKeyHash('A'.repeat(64))).toBeUndefined();
    expect(parseKeyHash('abc')).toBeUndefined();
    expect(parseKeyHash(`${hex}/..`)).toBeUndefined();
    expect(parseContentHash(42)).toBeUndefined();
    // @ts-expect-error a string is not a KeyHash until parsed
    const unparsed: KeyHash = hex;
    // @ts-expect-error nor is a KeyHash a ContentHash
    const crossed: ContentHash = keyHash(record({}));
    expect([unparsed, crossed].every((h) => h.length === 64)).toBe(true);
  });
});
