/**
 * Exclusive store-wide lock, now used only by `pipe gc`: runs coordinate per key instead (lease.ts).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LEASE_TTL_MS, LeaseDir, type LeaseDirOptions, type LeaseInfo } from './lease.js';
import { systemClock } from './lease-watch.js';
import { UserError } from '../stages/errors.js';

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly started_at: string;
  readonly command: string;
}

export class StoreLockedError extends UserError {
  readonly reason = 'store-busy';
  constructor(readonly holder: LockInfo, readonly lockFile: string) {
    super(
      `the store is in use by another pipe process (pid ${holder.pid} on ${holder.host}, running "${holder.command}" since ${holder.started_at}). ` +
        `Wait for it to finish; if that process is gone, pipe breaks the lock by itself (at once on the same host; a lock from another host once it has stayed unchanged for a minute), or delete ${lockFile}.`,
    );
  }
}

export interface Lock {
  readonly brokeStale?: LockInfo;
  release(): Promise<void>;
}

function lockInfo(lease: LeaseInfo): LockInfo {
  return { pid: lease.pid, host: lease.host, started_at: lease.acquired_at, command: lease.purpose };
}

export interface LockOptions extends LeaseDirOptions {
  /** Waits between looks at another host's lock (tests pass one that moves a fake clock). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const POLL_MS = LEASE_TTL_MS / 12;

/**
 * An exclusive lease named `name` under `<store>/leases/exclusive/` (only `gc` needs one today: two
 * collectors at once would race). Created atomically with its content (see lease.ts), so no second
 * process can ever read it empty and judge it stale; a holder that is gone is broken automatically.
 * A holder on this host is judged by its pid at once; one on another host only by watching its
 * lock stay unchanged for a TTL, so this waits up to that long before calling the store busy.
 */
export async function acquireLock(storeRoot: string, command: string, name = 'gc', options: LockOptions = {}): Promise<Lock> {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  const dir = await LeaseDir.open(join(storeRoot, 'leases', 'exclusive'), `${hostname()}-${process.pid}`, { ...options, clock });
  const started = clock();
  let claim = await dir.claim(name, command);
  while (!claim.acquired && claim.holder.host !== hostname() && clock() - started <= LEASE_TTL_MS) {
    await sleep(POLL_MS);
    claim = await dir.claim(name, command);
  }
  if (!claim.acquired) {
    const h = claim.holder;
    throw new StoreLockedError(lockInfo(h), join(dir.dir, name));
  }
  const lease = claim.lease;
  const timer = setInterval(() => void lease.renew().catch(() => undefined), LEASE_TTL_MS / 3);
  timer.unref();
  const release = async (): Promise<void> => {
    clearInterval(timer);
    await lease.release();
  };
  const b = claim.brokeStale;
  return b ? { brokeStale: lockInfo(b), release } : { release };
}
