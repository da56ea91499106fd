/**
 * Leases: short-lived, self-describing claims on a name inside a store directory, so several
 * `pipe` processes (on one machine, or on several sharing a filesystem such as NFS) can use one
 * store at once without a store-wide lock.
 *
 * - A key lease (`leases/keys/<key>`) says "this process is computing that artifact": a second run
 *   that needs the same key waits for the artifact instead of computing it again.
 * - A run lease (`leases/runs/<id>`) lists the keys a live run reads or writes, so `gc` never
 *   deletes them.
 *
 * A lease is created atomically with its content (written to a private temp file, then hard-linked
 * into place: link fails if the name exists), so no reader ever sees an empty lease. The holder
 * renews it; it is stale when its expiry has passed, or at once when it names a process on this host
 * that no longer exists. A stale lease is broken by renaming it aside first, so two processes that
 * both find it stale cannot both break a fresh lease that replaced it.
 */
import { parseKeyHash, type KeyHash } from './hash.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface LeaseInfo {
  readonly pid: number;
  readonly host: string;
  readonly owner: string;
  readonly acquired_at: string;
  /** ISO time after which the lease may be broken by anyone, whatever host holds it. */
  readonly expires_at: string;
  /** What the holder does with it: a command line, or the stage it computes. */
  readonly purpose: string;
  /** Run leases: the artifact keys the run uses. */
  readonly keys?: readonly KeyHash[];
}

/** How long a lease stays valid without renewal; holders renew every third of it. */
export const LEASE_TTL_MS = 60_000;

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as { code?: string }).code === 'EPERM';
  }
}

export function isStale(info: LeaseInfo, now = Date.now()): boolean {
  if (Date.parse(info.expires_at) < now) return true;
  return info.host === hostname() && !processAlive(info.pid);
}

export interface HeldLease {
  readonly path: string;
  readonly info: LeaseInfo;
  /** Rewrites the lease with a later expiry (and, for run leases, a new key list). */
  renew(keys?: readonly KeyHash[]): Promise<void>;
  release(): Promise<void>;
}

export type Claim = { readonly acquired: true; readonly lease: HeldLease; readonly brokeStale?: LeaseInfo } | { readonly acquired: false; readonly holder: LeaseInfo };

/** A directory of leases. `owner` identifies this process's run (one process may hold many leases). */
export class LeaseDir {
  private constructor(readonly dir: string, readonly owner: string) {}

  static async open(dir: string, owner: string): Promise<LeaseDir> {
    await mkdir(dir, { recursive: true });
    return new LeaseDir(dir, owner);
  }

  private info(purpose: string, keys?: readonly KeyHash[]): LeaseInfo {
    const now = Date.now();
    return {
      pid: process.pid,
      host: hostname(),
      owner: this.owner,
      acquired_at: new Date(now).toISOString(),
      expires_at: new Date(now + LEASE_TTL_MS).toISOString(),
      purpose,
      ...(keys ? { keys: [...keys] } : {}),
    };
  }

  /** Tries once to take `name`; breaks a stale holder and retries. Never waits for a live holder. */
  async claim(name: string, purpose: string, keys?: readonly KeyHash[]): Promise<Claim> {
    const path = join(this.dir, name);
    let brokeStale: LeaseInfo | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const info = this.info(purpose, keys);
      const tmp = join(this.dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
      await writeFile(tmp, JSON.stringify(info));
      try {
        await link(tmp, path);
        return { acquired: true, lease: this.held(path, info), ...(brokeStale ? { brokeStale } : {}) };
      } catch (error) {
        if ((error as { code?: string }).code !== 'EEXIST') throw error;
      } finally {
        await rm(tmp, { force: true });
      }
      const holder = await readLease(path);
      if (holder === undefined) continue; // released meanwhile: try again
      if (!isStale(holder)) return { acquired: false, holder };
      if (await breakLease(path, holder)) brokeStale = holder;
    }
    const holder = await readLease(path);
    if (holder) return { acquired: false, holder };
    throw new Error(`could not take the lease ${path}`);
  }

  private held(path: string, first: LeaseInfo): HeldLease {
    let current = first;
    return {
      path,
      get info() {
        return current;
      },
      renew: async (keys) => {
        const next: LeaseInfo = { ...current, expires_at: new Date(Date.now() + LEASE_TTL_MS).toISOString(), ...(keys ? { keys: [...keys] } : {}) };
        // Write aside then rename over: readers see the old or the new lease, never a torn one.
        const tmp = `${path}.${process.pid}.renew`;
        await writeFile(tmp, JSON.stringify(next));
        await rename(tmp, path);
        current = next;
      },
      release: async () => {
        // Only remove the lease if it is still ours (it may have been broken as stale and retaken).
        const now = await readLease(path);
        if (now && now.owner === current.owner && now.pid === current.pid && now.acquired_at === current.acquired_at) await rm(path, { force: true });
      },
    };
  }

  /** Every live (non-stale) lease in the directory. */
  async live(): Promise<LeaseInfo[]> {
    const out: LeaseInfo[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name.startsWith('.')) continue;
      const info = await readLease(join(this.dir, name));
      if (info && !isStale(info)) out.push(info);
    }
    return out;
  }

  /** Deletes leases whose holder is gone (e.g. a run killed with SIGKILL); returns how many. */
  async sweepStale(): Promise<number> {
    let swept = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name.startsWith('.')) continue;
      const path = join(this.dir, name);
      const info = await readLease(path);
      if (info && isStale(info) && (await breakLease(path, info))) swept++;
    }
    return swept;
  }
}

export async function readLease(path: string): Promise<LeaseInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as LeaseInfo;
    // The keys are read back as KeyHash only if they have the form of one.
    return info.keys === undefined ? info : { ...info, keys: info.keys.flatMap((k) => parseKeyHash(k) ?? []) };
  } catch {
    // Absent, or (only if written by something else than LeaseDir) unreadable: no holder.
    return undefined;
  }
}

/** Moves a stale lease aside, then checks it is the one we judged stale (not a fresh replacement). */
async function breakLease(path: string, judged: LeaseInfo): Promise<boolean> {
  const aside = `${path}.broken.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return false; // someone else broke or released it
  }
  const moved = await readLease(aside);
  if (moved && moved.acquired_at === judged.acquired_at && moved.pid === judged.pid && moved.host === judged.host) {
    await rm(aside, { force: true });
    return true;
  }
  // We moved a fresh lease that replaced the stale one: put it back unless a newer one exists.
  await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
  return false;
}
