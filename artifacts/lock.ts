/**
 * Store lock for commands that write (run, gc). The lock file records pid, host and start time;
 * a lock left by a process that no longer exists on this host is broken automatically.
 */
import { hostname } from 'node:os';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
        `Wait for it to finish; if that process is gone, delete ${lockFile}.`,
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as { code?: string }).code === 'EPERM';
  }
}

export interface Lock {
  readonly brokeStale?: LockInfo;
  release(): Promise<void>;
}

export async function acquireLock(storeRoot: string, command: string): Promise<Lock> {
  const file = join(storeRoot, 'lock');
  const info: LockInfo = { pid: process.pid, host: hostname(), started_at: new Date().toISOString(), command };
  let brokeStale: LockInfo | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(JSON.stringify(info));
      await handle.close();
      const release = async (): Promise<void> => {
        await rm(file, { force: true });
      };
      return brokeStale ? { brokeStale, release } : { release };
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
    let holder: LockInfo;
    try {
      holder = JSON.parse(await readFile(file, 'utf8')) as LockInfo;
    } catch {
      // Unreadable lock: a writer died between create and write. Treat as stale.
      await rm(file, { force: true });
      continue;
    }
    if (holder.host === hostname() && !alive(holder.pid)) {
      brokeStale = holder;
      await rm(file, { force: true });
      continue;
    }
    throw new StoreLockedError(holder, file);
  }
  throw new Error(`could not acquire ${file}`);
}
