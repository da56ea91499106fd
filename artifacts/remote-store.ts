/**
 * A local store in front of a shared remote cache. Stages always read artifacts from the local
 * directory; the remote only moves whole, verified artifacts in and out:
 * - lookup: local hit, else the remote's entry is checked, downloaded into a temp dir inside the
 *   store (every file checked by size and sha256) and adopted into the local store, else a miss.
 *   An entry that fails any check, or cannot be fetched, is a miss too: a notice names it and why,
 *   the temp dir is removed, and the stage is computed here. It is reported once per process and
 *   not fetched again by this process;
 * - commit: local first (the result is never lost), then uploaded, files first and manifest last,
 *   never overwriting an entry another writer made, except one this process found untrusted,
 *   which the good result replaces so that it stops failing for everyone. With a read-only remote
 *   nothing is uploaded.
 *
 * Coordination (key leases, run leases) stays with the local store: processes that share one
 * local directory share leases; machines that share only the remote may compute the same key at
 * the same time, and write-once keeps the first result.
 */
import type { FileHashMemo } from './file-hashes.js';
import type { KeyHash } from './hash.js';
import type { Claim, LeaseDir } from './lease.js';
import type { RemoteCache, RemoteEntry } from './s3-remote.js';
import type { ArtifactStore, LocalStore, Lookup, Manifest, ManifestDraft } from './store.js';
import { errorMessage } from '../stages/errors.js';

/** A remote entry this process will not use again, and whether a good result may replace it. */
interface Refused {
  readonly fingerprint: string;
  readonly replaceable: boolean;
}

export class RemoteBackedStore implements ArtifactStore {
  private readonly refused = new Map<KeyHash, Refused>();

  constructor(
    private readonly local: LocalStore,
    readonly remote: RemoteCache,
    /** Told about remote entries not used and uploads that failed: the run goes on either way. */
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  get root(): string {
    return this.local.root;
  }
  get memo(): FileHashMemo {
    return this.local.memo;
  }
  get runLeases(): LeaseDir {
    return this.local.runLeases;
  }

  artifactDir(key: KeyHash): string {
    return this.local.artifactDir(key);
  }

  async lookup(key: KeyHash): Promise<Lookup> {
    const here = await this.local.lookup(key);
    if (here.status === 'hit') return here;
    let entry: RemoteEntry;
    try {
      entry = await this.remote.entry(key);
    } catch (error) {
      this.warn(`remote ${this.remote.url}: could not read entry ${key} (${errorMessage(error)}); computing it here`);
      return here;
    }
    if (entry.status === 'absent') return here;
    // Already reported: the executor looks a key up several times, and one notice is enough.
    if (this.refused.get(key)?.fingerprint === entry.fingerprint) return here;
    if (entry.status === 'invalid') return this.refuse(key, entry.fingerprint, true, entry.reason, here);
    const temp = await this.local.createTemp(key);
    const scratch = await this.local.createTemp(key);
    try {
      const got = await this.remote.download(entry.manifest, temp, scratch);
      if (!got.ok) {
        await this.local.discard(temp);
        return this.refuse(key, entry.fingerprint, got.failure === 'untrusted', got.reason, here);
      }
      const adopted = await this.local.adopt(temp, entry.manifest);
      return { status: 'hit', manifest: adopted, dir: this.local.artifactDir(key), origin: 'remote' };
    } catch (error) {
      await this.local.discard(temp);
      throw error;
    } finally {
      await this.local.discard(scratch);
    }
  }

  private refuse(key: KeyHash, fingerprint: string, replaceable: boolean, reason: string, here: Lookup): Lookup {
    this.refused.set(key, { fingerprint, replaceable });
    const what = replaceable ? 'is not trusted' : 'could not be fetched';
    this.warn(`remote ${this.remote.url}: entry ${key} ${what}: ${reason}; treated as a miss, computing it here`);
    return here;
  }

  readManifest(key: KeyHash): Promise<Manifest | undefined> {
    return this.local.readManifest(key);
  }

  createTemp(key: KeyHash): Promise<string> {
    return this.local.createTemp(key);
  }

  async commit(tempDir: string, draft: ManifestDraft): Promise<Manifest> {
    const manifest = await this.local.commit(tempDir, draft);
    if (!this.remote.readOnly) {
      const bad = this.refused.get(manifest.key);
      const replacing = bad?.replaceable ? bad.fingerprint : undefined;
      try {
        const uploaded = await this.remote.upload(manifest, this.local.artifactDir(manifest.key), replacing);
        if (uploaded && replacing !== undefined) this.warn(`remote ${this.remote.url}: entry ${manifest.key} replaced by this run's ${draft.stage}`);
        this.refused.delete(manifest.key);
      } catch (error) {
        this.warn(`${draft.stage}: kept locally, but the upload failed: ${errorMessage(error)}`);
      }
    }
    return manifest;
  }

  discard(tempDir: string): Promise<void> {
    return this.local.discard(tempDir);
  }

  remove(key: KeyHash): Promise<void> {
    return this.local.remove(key);
  }

  keys(): Promise<KeyHash[]> {
    return this.local.keys();
  }

  sizeOf(key: KeyHash): Promise<number> {
    return this.local.sizeOf(key);
  }

  claimKey(key: KeyHash, purpose: string): Promise<Claim> {
    return this.local.claimKey(key, purpose);
  }

  sweepTemp(): Promise<number> {
    return this.local.sweepTemp();
  }

  close(): Promise<void> {
    return this.local.close();
  }
}
