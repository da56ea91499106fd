/**
 * A remote artifact cache on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, R2), through
 * the official `@aws-sdk/client-s3`. Endpoint, region and credentials come from the standard AWS
 * environment and config files (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_PROFILE, …).
 *
 * Layout under `s3://bucket/prefix/`:
 *   artifacts/<key>/files/<name>     the artifact's files
 *   artifacts/<key>/manifest.json    written last, only if absent (If-None-Match: *)
 *
 * An entry exists once its manifest exists, so a reader never sees a half-uploaded artifact; a
 * second writer of the same key never overwrites the first (same key, same work).
 *
 * Nothing read from the bucket is trusted: a manifest is checked (artifacts/manifest-check.ts)
 * before any of its names becomes a path, and each file is streamed into a scratch directory and
 * moved into place only once its size and sha256 match. A bad entry is reported, never thrown.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { errorMessage, UserError } from '../stages/errors.js';
import type { ArtifactFile } from '../stages/types.js';
import { parseKeyHash, sha256, type KeyHash } from './hash.js';
import { checkManifest, fileNameProblem, quote } from './manifest-check.js';
import type { Manifest } from './store.js';

export interface RemoteLocation {
  readonly bucket: string;
  /** Key prefix without leading or trailing slash ('' for the bucket root). */
  readonly prefix: string;
}

/**
 * A remote entry as read, before anything is downloaded. `fingerprint` (the sha256 of the manifest
 * as stored) lets a writer replace exactly the entry it found untrusted, and no later one.
 */
export type RemoteEntry =
  | { readonly status: 'absent' }
  | { readonly status: 'valid'; readonly manifest: Manifest; readonly fingerprint: string }
  | { readonly status: 'invalid'; readonly reason: string; readonly fingerprint: string };

/**
 * How a download ended. `untrusted`: the entry's bytes are not what its manifest says (the entry
 * is bad and may be replaced); `unavailable`: the transfer failed (the entry may be fine).
 */
export type Download = { readonly ok: true } | { readonly ok: false; readonly failure: 'untrusted' | 'unavailable'; readonly reason: string };

/** What a local store needs from a remote cache. */
export interface RemoteCache {
  readonly url: string;
  readonly readOnly: boolean;
  /** The entry filed under `key`, its manifest checked (checkManifest) before it is returned as valid. */
  entry(key: KeyHash): Promise<RemoteEntry>;
  /**
   * Downloads every file of a valid entry into `dir`, streaming each through `scratch` (a directory
   * the caller removes) and moving it into `dir` only once its size and sha256 match. Never throws
   * for a bad entry or a failed transfer: the result says why.
   */
  download(manifest: Manifest, dir: string, scratch: string): Promise<Download>;
  /**
   * Uploads a committed local artifact; returns false when the key already has an entry. With
   * `replacing` (the fingerprint of an entry found untrusted), that entry, and only while it is
   * still the one found, is deleted first and replaced.
   */
  upload(manifest: Manifest, dir: string, replacing?: string): Promise<boolean>;
  keys(): Promise<KeyHash[]>;
  remove(key: KeyHash): Promise<void>;
  /** Fails with a RemoteError that names the URL when the bucket cannot be reached. */
  check(): Promise<void>;
}

export class RemoteError extends UserError {
  readonly reason = 'remote-unavailable';
}

export function parseS3Url(url: string): RemoteLocation {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new RemoteError(`remote "${url}" is not an S3 URL: use s3://bucket or s3://bucket/prefix`);
  return { bucket: match[1]!, prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/**
 * Client settings beyond the SDK's own defaults. A custom endpoint (MinIO, Ceph, a test server) is
 * addressed path-style (`endpoint/bucket/key`), which those servers expect; AWS itself needs nothing.
 */
export function clientConfig(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = env['AWS_ENDPOINT_URL_S3'] ?? env['AWS_ENDPOINT_URL'];
  return {
    ...(endpoint ? { forcePathStyle: true } : {}),
    ...(env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] ? {} : { region: 'us-east-1' }),
  };
}

export class S3Remote implements RemoteCache {
  private readonly client: S3Client;

  constructor(
    readonly url: string,
    readonly readOnly: boolean,
    private readonly location: RemoteLocation = parseS3Url(url),
    client?: S3Client,
  ) {
    this.client = client ?? new S3Client(clientConfig());
  }

  private objectKey(...parts: string[]): string {
    return [this.location.prefix, 'artifacts', ...parts].filter(Boolean).join('/');
  }

  private wrap(action: string, error: unknown): Error {
    if (error instanceof RemoteError) return error;
    const name = error instanceof Error ? error.name : 'Error';
    const detail = errorMessage(error);
    return new RemoteError(`remote ${this.url}: ${action} failed (${name}: ${detail}). Check the URL, AWS_ENDPOINT_URL and your AWS credentials.`);
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }));
    } catch (error) {
      throw this.wrap('reaching the bucket', error);
    }
  }

  async entry(key: KeyHash): Promise<RemoteEntry> {
    let text: string;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key, 'manifest.json') }));
      text = (await out.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      if (isMissing(error)) return { status: 'absent' };
      throw this.wrap(`reading ${key.slice(0, 12)}`, error);
    }
    const fingerprint = sha256(text);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { status: 'invalid', reason: 'its manifest.json is not JSON', fingerprint };
    }
    const checked = checkManifest(value, key);
    return checked.ok ? { status: 'valid', manifest: checked.manifest, fingerprint } : { status: 'invalid', reason: checked.reason, fingerprint };
  }

  async download(manifest: Manifest, dir: string, scratch: string): Promise<Download> {
    let index = 0;
    for (const [name, file] of Object.entries(manifest.files)) {
      // checkManifest refused every name that could leave `dir`; this is the last line of defence.
      const target = resolve(dir, name);
      if (fileNameProblem(name) !== undefined || !target.startsWith(resolve(dir) + sep)) {
        return { ok: false, failure: 'untrusted', reason: `file name ${quote(name)} leaves the artifact directory` };
      }
      // Partial files live outside `dir`, so no name in the manifest can collide with one.
      const partial = join(scratch, `${index++}.part`);
      try {
        const verdict = await this.fetchFile(manifest.key, name, file, partial);
        if (verdict) return { ok: false, failure: 'untrusted', reason: `${quote(name)} ${verdict}` };
        await mkdir(dirname(target), { recursive: true });
        await rename(partial, target);
      } catch (error) {
        return { ok: false, failure: 'unavailable', reason: `downloading ${quote(name)} failed (${errorMessage(error)})` };
      } finally {
        await rm(partial, { force: true });
      }
    }
    return { ok: true };
  }

  /** Streams one file to `partial`; returns why its bytes are not the recorded ones, or undefined. */
  private async fetchFile(key: KeyHash, name: string, file: ArtifactFile, partial: string): Promise<string | undefined> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key, 'files', name) }));
    if (!(out.Body instanceof Readable)) throw new Error('no body');
    const body = out.Body;
    const hash = createHash('sha256');
    let bytes = 0;
    let tooLong = false;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      // Stop at once rather than store an oversized (possibly endless) body.
      if (bytes > file.bytes && !tooLong) {
        tooLong = true;
        body.destroy();
      }
    });
    try {
      await pipeline(body, createWriteStream(partial));
    } catch (error) {
      if (!tooLong) throw error;
    }
    if (tooLong) return `is longer than its recorded ${file.bytes} bytes`;
    if (bytes !== file.bytes) return `has ${bytes} bytes, not its recorded ${file.bytes}`;
    const digest = hash.digest('hex');
    if (digest !== file.sha256) return `does not match its recorded sha256 (got ${digest.slice(0, 12)}, expected ${file.sha256.slice(0, 12)})`;
    return undefined;
  }

  async upload(manifest: Manifest, dir: string, replacing?: string): Promise<boolean> {
    if (this.readOnly) return false;
    const existing = await this.entry(manifest.key);
    if (existing.status !== 'absent') {
      // Someone else's entry, good or not, stays unless it is exactly the one we found untrusted.
      if (replacing === undefined || existing.fingerprint !== replacing) return false;
      await this.remove(manifest.key);
    }
    try {
      for (const name of Object.keys(manifest.files)) {
        const path = join(dir, name);
        const size = (await stat(path)).size;
        await this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(manifest.key, 'files', name), Body: createReadStream(path), ContentLength: size }));
      }
      // Last, and only if absent: the entry appears whole or not at all, and is never overwritten.
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: this.objectKey(manifest.key, 'manifest.json'),
          Body: `${JSON.stringify(manifest, null, 2)}\n`,
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 412 || error.name === 'PreconditionFailed')) return false;
      throw this.wrap(`uploading ${manifest.stage}`, error);
    }
  }

  async keys(): Promise<KeyHash[]> {
    const keys = new Set<KeyHash>();
    const base = `${this.objectKey()}/`;
    try {
      for (const objectKey of await this.list(base)) {
        const [name, file] = objectKey.slice(base.length).split('/');
        const key = parseKeyHash(name);
        if (key !== undefined && file === 'manifest.json') keys.add(key);
      }
    } catch (error) {
      throw this.wrap('listing', error);
    }
    return [...keys].sort();
  }

  private async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async remove(key: KeyHash): Promise<void> {
    if (this.readOnly) throw new RemoteError(`remote ${this.url} is read-only here (--remote-read-only): nothing removed`);
    try {
      // The manifest first: from then on the entry no longer exists for readers. The files are
      // found by listing the entry's prefix, not from the manifest, whose names may be hostile.
      const manifestKey = this.objectKey(key, 'manifest.json');
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: manifestKey }));
      for (const objectKey of await this.list(`${this.objectKey(key)}/`)) {
        if (objectKey !== manifestKey) await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: objectKey }));
      }
    } catch (error) {
      throw this.wrap(`removing ${key.slice(0, 12)}`, error);
    }
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404);
}
