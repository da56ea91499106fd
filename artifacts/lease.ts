/**
 * Leases: short-lived, self-describing claims on a name inside a store directory, so several
 * `pipe` processes (on one machine, or on several sharing a filesystem such as NFS) can use one
 * store at once without a store-wide lock.
 *
 * - A key lease (`leases/keys/<key>`) says "this process is computing that artifact": a second run
 *   that needs the same key waits for the artifact instead of computing it again.
 * - A run lease (`leases/runs/<id>`) lists the keys a live run uses, so `gc` never deletes them.
 *
 * A lease is created atomically with its content (lease-file.ts), so no reader ever sees an empty
 * or torn lease, and carries a random token that its holder checks before each renew and release
 * (held-lease.ts). A lease is stale at once when it names a process on this host that no longer
 * exists, and otherwise once this process has seen it unchanged for a whole TTL (lease-watch.ts):
 * the holder's timestamps are never compared with this host's clock. A stale lease is broken by
 * renaming it aside first, so two processes that both find it stale cannot both break a fresh
 * lease that replaced it.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { KeyHash } from './hash.js';
import { Holding, type HeldLease } from './held-lease.js';
import { tempPath } from './atomic-write.js';
import { createLeaseFile, LEASE_TTL_MS, readLeaseFile, type LeaseFile, type LeaseInfo } from './lease-file.js';
import { LeaseWatch, type MonotonicClock } from './lease-watch.js';

export { LEASE_TTL_MS, readLease, type LeaseInfo } from './lease-file.js';
export type { HeldLease, LeaseState, RenewOutcome } from './held-lease.js';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as { code?: string }).code === 'EPERM';
  }
}

export type Claim = { readonly acquired: true; readonly lease: HeldLease; readonly brokeStale?: LeaseInfo } | { readonly acquired: false; readonly holder: LeaseInfo };

export interface LeaseDirOptions {
  /** This host's monotonic clock, which judges staleness (tests pass a fake one). */
  readonly clock?: MonotonicClock;
  /** Wall-clock time, only for the informational timestamps written into leases. */
  readonly wallClock?: () => number;
}

/** A directory of leases. `owner` identifies this process's run (one process may hold many leases). */
export class LeaseDir {
  private readonly watch: LeaseWatch;
  private readonly wallClock: () => number;

  private constructor(
    readonly dir: string,
    readonly owner: string,
    options: LeaseDirOptions,
  ) {
    this.watch = new LeaseWatch(options.clock);
    this.wallClock = options.wallClock ?? Date.now;
  }

  static async open(dir: string, owner: string, options: LeaseDirOptions = {}): Promise<LeaseDir> {
    await mkdir(dir, { recursive: true });
    return new LeaseDir(dir, owner, options);
  }

  private info(purpose: string, keys?: readonly KeyHash[]): LeaseInfo {
    const now = this.wallClock();
    return {
      pid: process.pid,
      host: hostname(),
      owner: this.owner,
      acquired_at: new Date(now).toISOString(),
      expires_at: new Date(now + LEASE_TTL_MS).toISOString(),
      purpose,
      token: randomBytes(16).toString('hex'),
      renewals: 0,
      ...(keys ? { keys: [...keys] } : {}),
    };
  }

  /** Whether the lease at `path`, as just read, has a holder that is gone. */
  private isStale(path: string, lease: LeaseFile): boolean {
    // Called on every read, so that the watch sees each version of the file.
    const unchanged = this.watch.unchangedFor(path, lease.text);
    if (lease.info.host === hostname() && !processAlive(lease.info.pid)) return true;
    return unchanged >= LEASE_TTL_MS;
  }

  /** Tries once to take `name`; breaks a stale holder and retries. Never waits for a live holder. */
  async claim(name: string, purpose: string, keys?: readonly KeyHash[]): Promise<Claim> {
    const path = join(this.dir, name);
    let brokeStale: LeaseInfo | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const info = this.info(purpose, keys);
      if (await createLeaseFile(path, info)) {
        this.watch.forget(path);
        return { acquired: true, lease: new Holding(path, info, this.wallClock), ...(brokeStale ? { brokeStale } : {}) };
      }
      const holder = await readLeaseFile(path);
      if (holder === undefined) continue; // released meanwhile: try again
      if (!this.isStale(path, holder)) return { acquired: false, holder: holder.info };
      if (await this.breakLease(path, holder)) brokeStale = holder.info;
    }
    const holder = await readLeaseFile(path);
    if (holder) return { acquired: false, holder: holder.info };
    throw new Error(`could not take the lease ${path}`);
  }

  /** Every live (non-stale) lease in the directory. */
  async live(): Promise<LeaseInfo[]> {
    const out: LeaseInfo[] = [];
    for (const name of await this.names()) {
      const path = join(this.dir, name);
      const lease = await readLeaseFile(path);
      if (lease === undefined) this.watch.forget(path);
      else if (!this.isStale(path, lease)) out.push(lease.info);
    }
    return out;
  }

  /** Deletes leases whose holder is gone (e.g. a run killed with SIGKILL); returns how many. */
  async sweepStale(): Promise<number> {
    let swept = 0;
    for (const name of await this.names()) {
      const path = join(this.dir, name);
      const lease = await readLeaseFile(path);
      if (lease && this.isStale(path, lease) && (await this.breakLease(path, lease))) swept++;
    }
    return swept;
  }

  /** Lease names: temp files and leases moved aside start with '.'. */
  private async names(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
  }

  /** Moves a stale lease aside, then checks it is the one judged stale (not a fresh replacement). */
  private async breakLease(path: string, judged: LeaseFile): Promise<boolean> {
    const aside = tempPath(path, 'broken');
    try {
      await rename(path, aside);
    } catch {
      return false; // someone else broke or released it
    }
    this.watch.forget(path);
    const moved = await readLeaseFile(aside);
    if (moved?.text === judged.text) {
      await rm(aside, { force: true });
      return true;
    }
    // We moved a lease that replaced (or renewed) the stale one: put it back unless a newer one exists.
    await link(aside, path).catch(() => undefined);
    await rm(aside, { force: true });
    return false;
  }
}
