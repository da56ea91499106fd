/**
 * Exclusive store-wide lock, now used only by `pipe gc`: runs coordinate per key instead (lease.ts).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LEASE_TTL_MS, LeaseDir, type LeaseInfo } from './lease.js';
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
        `Wait for it to finish; if that process is gone, pipe breaks the lock by itself within a minute (or delete ${lockFile}).`,
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

/**
 * An exclusive lease named `name` under `<store>/leases/exclusive/` (only `gc` needs one today: two
 * collectors at once would race). Created atomically with its content (see lease.ts), so no second
 * process can ever read it empty and judge it stale; a holder that is gone is broken automatically.
 */
export async function acquireLock(storeRoot: string, command: string, name = 'gc'): Promise<Lock> {
  const dir = await LeaseDir.open(join(storeRoot, 'leases', 'exclusive'), `${hostname()}-${process.pid}`);
  const claim = await dir.claim(name, command);
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
