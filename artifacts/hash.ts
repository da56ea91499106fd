/** Canonical JSON and sha256 helpers: equal values always give equal strings, whatever the key order. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex sha256 of a stage's cache-key record. */
export type KeyHash = string & { readonly __brand: 'KeyHash' };
/** Hex sha256 over an artifact's output files (names + file hashes). */
export type ContentHash = string & { readonly __brand: 'ContentHash' };

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * A key read from outside the type system (a directory name, a run record, a queue job): a KeyHash
 * only if it has the form of one. The brands are minted here and by keyHash/contentHash only.
 */
export function parseKeyHash(text: unknown): KeyHash | undefined {
  return typeof text === 'string' && HEX_SHA256.test(text) ? (text as KeyHash) : undefined;
}

/** As parseKeyHash, for a content hash. */
export function parseContentHash(text: unknown): ContentHash | undefined {
  return typeof text === 'string' && HEX_SHA256.test(text) ? (text as ContentHash) : undefined;
}

/** JSON with object keys sorted recursively; `undefined` members are dropped like JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  return value;
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 22 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Content hash of a set of files: depends on names and bytes only, never on paths or times. */
export function contentHash(files: Readonly<Record<string, { readonly sha256: string }>>): ContentHash {
  const lines = Object.keys(files)
    .sort()
    .map((name) => `${name}\0${files[name]?.sha256 ?? ''}`);
  return sha256(lines.join('\n')) as ContentHash;
}
