/**
 * Content-addressed local artifact store.
 *
 * Layout under the store root (default `.pipe/`):
 *   artifacts/<key[0..2]>/<key>/          one finished stage run: its output files + manifest.json
 *   tmp/<key>-<host>-<pid>-<n>/           a stage in progress; never read; swept once its process is gone
 *   runs/<time>-<pid>.json                append-only run records (one file per run, never rewritten)
 *   file-hashes.json                      memo of file hashes by (path, size, mtime, inode)
 *   leases/keys/<key>                     "this process is computing <key>" (see lease.ts)
 *   leases/runs/<run id>                  the keys a live run uses, which gc keeps
 *
 * Several processes may use one store at once: a key is computed by whoever holds its lease, and
 * an artifact directory, once renamed into place, is never rewritten (write-once).
 *
 * Commit order: a stage writes into tmp/, the store hashes every file, writes manifest.json last,
 * fsyncs and renames the directory into artifacts/. A kill at any point leaves either nothing or a
 * temp dir that no reader trusts, so a crash means "stale", never "trusted but corrupt".
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative, sep } from 'node:path';
import { LeaseDir, processAlive, type Claim } from './lease.js';
import type { ArtifactFile, JsonValue } from '../stages/types.js';
import { FileHashMemo } from './file-hashes.js';
import { contentHash, parseKeyHash, sha256File, type ContentHash, type KeyHash } from './hash.js';
import type { KeyRecord } from './key.js';

export const MANIFEST = 'manifest.json';

export interface InputRef {
  readonly stage: string;
  readonly content_hash: ContentHash;
}

export interface Manifest {
  readonly format: 1;
  readonly key: KeyHash;
  readonly content_hash: ContentHash;
  readonly stage: string;
  readonly pipeline: string;
  readonly kind: string;
  readonly key_record: KeyRecord;
  readonly inputs: Readonly<Record<string, InputRef | readonly InputRef[]>>;
  readonly files: Readonly<Record<string, ArtifactFile>>;
  readonly metrics: Readonly<Record<string, JsonValue>>;
  readonly backend?: string;
  readonly started_at: string;
  readonly finished_at: string;
  readonly duration_s: number;
  readonly environment: Readonly<Record<string, string>>;
}

export type ManifestDraft = Omit<Manifest, 'format' | 'content_hash' | 'files' | 'finished_at'>;

export type Lookup =
  | { readonly status: 'hit'; readonly manifest: Manifest; readonly dir: string; readonly origin?: 'remote' }
  | { readonly status: 'absent' }
  | { readonly status: 'corrupt'; readonly detail: string };

/**
 * What inspection (status, ls, show, compare, report's pre-check) needs: reads only, so it takes
 * no lease and works on a read-only store or one that does not exist yet ("nothing cached").
 */
export interface ArtifactReader {
  /** Local directory holding the artifacts that stages read. */
  readonly root: string;
  /** In a reader, a memo that is never saved (saving would write to the store without its lock). */
  readonly memo: FileHashMemo;
  artifactDir(key: KeyHash): string;
  /** Finds an artifact and verifies every file it records. */
  lookup(key: KeyHash): Promise<Lookup>;
  /** A manifest without verifying files (listings). */
  readManifest(key: KeyHash): Promise<Manifest | undefined>;
  keys(): Promise<KeyHash[]>;
  sizeOf(key: KeyHash): Promise<number>;
  close(): Promise<void>;
}

/**
 * What the executor and gc need from a store. Implementations: `LocalStore` (a directory,
 * also on a shared filesystem). One contract suite (test/store/contract.test.ts) runs against each.
 */
export interface ArtifactStore extends ArtifactReader {
  createTemp(key: KeyHash): Promise<string>;
  /** Write-once: if another writer committed the same key first, its artifact wins and ours is dropped. */
  commit(tempDir: string, draft: ManifestDraft): Promise<Manifest>;
  discard(tempDir: string): Promise<void>;
  remove(key: KeyHash): Promise<void>;
  /** Tries to become the one process computing `key` (never waits). */
  claimKey(key: KeyHash, purpose: string): Promise<Claim>;
  /** Leases of live runs (their `keys` are in use and must survive gc). */
  readonly runLeases: LeaseDir;
  /** Deletes temp dirs whose process is gone. */
  sweepTemp(): Promise<number>;
}

/** A local store opened for reading only: no directories created, no leases, the memo never saved. */
export class LocalStoreReader implements ArtifactReader {
  protected constructor(
    readonly root: string,
    readonly memo: FileHashMemo,
  ) {}

  static async openReadOnly(root: string): Promise<ArtifactReader> {
    return new LocalStoreReader(root, await FileHashMemo.open(join(root, 'file-hashes.json')));
  }

  artifactDir(key: KeyHash): string {
    return join(this.root, 'artifacts', key.slice(0, 2), key);
  }

  /** Finds an artifact and checks every recorded file: present, same size, same hash (memoised). */
  async lookup(key: KeyHash): Promise<Lookup> {
    const dir = this.artifactDir(key);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
    } catch (error) {
      if (isNotFound(error)) return (await exists(dir)) ? { status: 'corrupt', detail: 'manifest.json is missing' } : { status: 'absent' };
      return { status: 'corrupt', detail: 'manifest.json is unreadable' };
    }
    if (manifest.key !== key) return { status: 'corrupt', detail: 'manifest key does not match its directory' };
    for (const [name, file] of Object.entries(manifest.files)) {
      const path = join(dir, name);
      try {
        const info = await stat(path);
        if (info.size !== file.bytes) return { status: 'corrupt', detail: `${name} has ${info.size} bytes, expected ${file.bytes}` };
        if ((await this.memo.hash(path)) !== file.sha256) return { status: 'corrupt', detail: `${name} does not match its recorded sha256` };
      } catch (error) {
        if (isNotFound(error)) return { status: 'corrupt', detail: `${name} is missing` };
        throw error;
      }
    }
    return { status: 'hit', manifest, dir };
  }

  /** Reads a manifest without verifying files (for listings). */
  async readManifest(key: KeyHash): Promise<Manifest | undefined> {
    try {
      return JSON.parse(await readFile(join(this.artifactDir(key), MANIFEST), 'utf8')) as Manifest;
    } catch {
      return undefined;
    }
  }

  /** Every artifact key present on disk. */
  async keys(): Promise<KeyHash[]> {
    const keys: KeyHash[] = [];
    const base = join(this.root, 'artifacts');
    for (const prefix of await readdir(base).catch(() => [] as string[])) {
      for (const name of await readdir(join(base, prefix)).catch(() => [] as string[])) {
        // Anything else in artifacts/ (an editor's backup, a stray folder) is not an artifact.
        const key = parseKeyHash(name);
        if (key !== undefined) keys.push(key);
      }
    }
    return keys.sort();
  }

  async sizeOf(key: KeyHash): Promise<number> {
    let total = 0;
    for (const path of await listFiles(this.artifactDir(key))) total += (await stat(path)).size;
    return total;
  }

  async close(): Promise<void> {
    // Nothing to release, and the memo is not saved: a reader never writes to the store.
  }
}

export class LocalStore extends LocalStoreReader implements ArtifactStore {
  private tempCounter = 0;

  private constructor(
    root: string,
    memo: FileHashMemo,
    private readonly keyLeases: LeaseDir,
    readonly runLeases: LeaseDir,
  ) {
    super(root, memo);
  }

  static async open(root: string, owner = `${hostname()}-${process.pid}`): Promise<LocalStore> {
    for (const dir of ['artifacts', 'tmp', 'runs']) await mkdir(join(root, dir), { recursive: true });
    return new LocalStore(
      root,
      await FileHashMemo.open(join(root, 'file-hashes.json')),
      await LeaseDir.open(join(root, 'leases', 'keys'), owner),
      await LeaseDir.open(join(root, 'leases', 'runs'), owner),
    );
  }

  claimKey(key: KeyHash, purpose: string): Promise<Claim> {
    return this.keyLeases.claim(key, purpose);
  }

  async createTemp(key: KeyHash): Promise<string> {
    const dir = join(this.root, 'tmp', `${key.slice(0, 16)}-${hostname()}-${process.pid}-${this.tempCounter++}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Hashes the temp dir's files, writes the manifest last and renames the directory into place. */
  async commit(tempDir: string, draft: ManifestDraft): Promise<Manifest> {
    const files: Record<string, ArtifactFile> = {};
    for (const path of await listFiles(tempDir)) {
      const name = relative(tempDir, path).split(sep).join('/');
      if (name === MANIFEST) throw new Error(`stage ${draft.stage} wrote a file named ${MANIFEST}, which the store reserves`);
      const digest = await sha256File(path);
      await fsyncFile(path);
      files[name] = { sha256: digest, bytes: (await stat(path)).size };
    }
    const manifest: Manifest = {
      format: 1,
      ...draft,
      content_hash: contentHash(files),
      files,
      finished_at: new Date().toISOString(),
    };
    return this.adopt(tempDir, manifest);
  }

  /**
   * Takes in an artifact whose files match `manifest` (hashed by commit, or downloaded from a
   * remote cache and verified): writes the manifest last and renames the dir into place, write-once.
   */
  async adopt(tempDir: string, manifest: Manifest): Promise<Manifest> {
    const manifestPath = join(tempDir, MANIFEST);
    await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    await fsyncFile(manifestPath);
    const finalDir = this.artifactDir(manifest.key);
    await mkdir(join(finalDir, '..'), { recursive: true });
    const existing = await this.lookup(manifest.key);
    if (existing.status === 'hit') {
      // Write-once: someone committed this key first (e.g. a lease broken as stale while its holder
      // still ran). Same key, same work: keep theirs, drop ours.
      await this.discard(tempDir);
      return existing.manifest;
    }
    if (existing.status === 'corrupt') await this.remove(manifest.key);
    try {
      await rename(tempDir, finalDir);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      // Lost a race with another committer between our lookup and rename.
      const winner = await this.lookup(manifest.key);
      if (winner.status !== 'hit') throw error;
      await this.discard(tempDir);
      return winner.manifest;
    }
    for (const [name, file] of Object.entries(manifest.files)) {
      await this.memo.record(join(finalDir, name), file.sha256);
    }
    return manifest;
  }

  async discard(tempDir: string): Promise<void> {
    await rm(tempDir, { recursive: true, force: true });
  }

  /** Removes a (corrupt or collected) artifact. */
  async remove(key: KeyHash): Promise<void> {
    const dir = this.artifactDir(key);
    this.memo.forget(dir);
    await rm(dir, { recursive: true, force: true });
  }

  /**
   * Deletes leftovers of killed processes: temp dirs named with this host and a pid that is gone.
   * Other hosts' temp dirs (a shared filesystem) are left to them unless a day old.
   */
  async sweepTemp(): Promise<number> {
    const host = hostname();
    let swept = 0;
    for (const entry of await readdir(join(this.root, 'tmp')).catch(() => [] as string[])) {
      const match = /^[0-9a-f]+-(.+)-(\d+)-\d+$/.exec(entry);
      const path = join(this.root, 'tmp', entry);
      let dead: boolean;
      if (match && match[1] === host) dead = !processAlive(Number(match[2]));
      else dead = Date.now() - (await stat(path).then((s) => s.mtimeMs, () => Date.now())) > 24 * 3600_000;
      if (!dead) continue;
      await rm(path, { recursive: true, force: true });
      swept++;
    }
    return swept;
  }

  override async close(): Promise<void> {
    await this.memo.save();
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'ENOENT';
}
