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
 * second writer of the same key never overwrites the first (same key, same work). Every downloaded
 * file is checked against the manifest's sha256 before the local store trusts it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
import { UserError } from '../stages/errors.js';
import { parseKeyHash, type KeyHash } from './hash.js';
import type { Manifest } from './store.js';
import { errorMessage } from '../stages/errors.js';

export interface RemoteLocation {
  readonly bucket: string;
  /** Key prefix without leading or trailing slash ('' for the bucket root). */
  readonly prefix: string;
}

/** What a local store needs from a remote cache. */
export interface RemoteCache {
  readonly url: string;
  readonly readOnly: boolean;
  /** The entry's manifest, or undefined when the key has no complete entry. */
  manifest(key: KeyHash): Promise<Manifest | undefined>;
  /** Downloads every file of the entry into `dir`, verifying each one's sha256. */
  download(manifest: Manifest, dir: string): Promise<void>;
  /** Uploads a committed local artifact; returns false when another writer had already done it. */
  upload(manifest: Manifest, dir: string): Promise<boolean>;
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

  async manifest(key: KeyHash): Promise<Manifest | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key, 'manifest.json') }));
      const text = (await out.Body?.transformToString('utf8')) ?? '';
      const manifest = JSON.parse(text) as Manifest;
      return manifest.key === key ? manifest : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (error instanceof SyntaxError) return undefined; // an unreadable manifest is no entry
      throw this.wrap(`reading ${key.slice(0, 12)}`, error);
    }
  }

  async download(manifest: Manifest, dir: string): Promise<void> {
    for (const [name, file] of Object.entries(manifest.files)) {
      const target = join(dir, name);
      await mkdir(dirname(target), { recursive: true });
      const partial = `${target}.part`;
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(manifest.key, 'files', name) }));
        if (!(out.Body instanceof Readable)) throw new Error('no body');
        const hash = createHash('sha256');
        out.Body.on('data', (chunk: Buffer) => hash.update(chunk));
        await pipeline(out.Body, createWriteStream(partial));
        const digest = hash.digest('hex');
        if (digest !== file.sha256) throw new RemoteError(`remote ${this.url}: ${manifest.stage}/${name} does not match its recorded sha256 (got ${digest.slice(0, 12)}, expected ${file.sha256.slice(0, 12)}); not trusted`);
        await rename(partial, target);
      } catch (error) {
        await rm(partial, { force: true });
        throw this.wrap(`downloading ${manifest.stage}/${name}`, error);
      }
    }
  }

  async upload(manifest: Manifest, dir: string): Promise<boolean> {
    if (this.readOnly) return false;
    if (await this.manifest(manifest.key)) return false;
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
    let token: string | undefined;
    const base = this.objectKey('');
    try {
      do {
        const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: base, ContinuationToken: token }));
        for (const o of out.Contents ?? []) {
          const rest = (o.Key ?? '').slice(base.length);
          const [name, file] = rest.split('/');
          const key = parseKeyHash(name);
          if (key !== undefined && file === 'manifest.json') keys.add(key);
        }
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw this.wrap('listing', error);
    }
    return [...keys].sort();
  }

  async remove(key: KeyHash): Promise<void> {
    if (this.readOnly) throw new RemoteError(`remote ${this.url} is read-only here (--remote-read-only): nothing removed`);
    try {
      // The manifest first: from then on the entry no longer exists for readers.
      const manifest = await this.manifest(key);
      const objects = [{ Key: this.objectKey(key, 'manifest.json') }, ...Object.keys(manifest?.files ?? {}).map((name) => ({ Key: this.objectKey(key, 'files', name) }))];
      for (const o of objects) await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: o.Key }));
    } catch (error) {
      throw this.wrap(`removing ${key.slice(0, 12)}`, error);
    }
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404);
}
