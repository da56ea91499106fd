/**
 * A local store in front of a shared remote cache. Stages always read artifacts from the local
 * directory; the remote only moves whole, verified artifacts in and out:
 * - lookup: local hit, else the remote's entry is downloaded (every file checked by sha256) and
 *   adopted into the local store, else a miss;
 * - commit: local first (the result is never lost), then uploaded, files first and manifest last,
 *   never overwriting an entry another writer made. With a read-only remote nothing is uploaded.
 *
 * Coordination (key leases, run leases) stays with the local store: processes that share one
 * local directory share leases; machines that share only the remote may compute the same key at
 * the same time, and write-once keeps the first result.
 */
import type { FileHashMemo } from './file-hashes.js';
import type { KeyHash } from './hash.js';
import type { Claim, LeaseDir } from './lease.js';
import type { RemoteCache } from './s3-remote.js';
import type { ArtifactStore, LocalStore, Lookup, Manifest, ManifestDraft } from './store.js';
import { errorMessage } from '../stages/errors.js';

export class RemoteBackedStore implements ArtifactStore {
  constructor(
    private readonly local: LocalStore,
    readonly remote: RemoteCache,
    /** Told about uploads that failed: the local artifact is kept and the run goes on. */
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
    const manifest = await this.remote.manifest(key);
    if (!manifest) return here;
    if (here.status === 'corrupt') await this.local.remove(key);
    const temp = await this.local.createTemp(key);
    try {
      await this.remote.download(manifest, temp);
      const adopted = await this.local.adopt(temp, manifest);
      return { status: 'hit', manifest: adopted, dir: this.local.artifactDir(key), origin: 'remote' };
    } catch (error) {
      await this.local.discard(temp);
      throw error;
    }
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
      try {
        await this.remote.upload(manifest, this.local.artifactDir(manifest.key));
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
