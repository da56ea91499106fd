/**
 * A lease file on disk: its content, and the two atomic ways it is written. Every write goes to a
 * temp file of its own (atomic-write.ts) and is then linked (create) or renamed (rewrite) into
 * place, so a reader sees a whole lease or none, never a torn one, and two writes never share a
 * temp file. Temp names start with '.', which lease listings skip.
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { tempPath, writeFileAtomic } from './atomic-write.js';
import { parseKeyHash, type KeyHash } from './hash.js';

/** How long a holder may go without renewing before others break its lease; holders renew every third of it. */
export const LEASE_TTL_MS = 60_000;

export interface LeaseInfo {
  readonly pid: number;
  readonly host: string;
  readonly owner: string;
  readonly acquired_at: string;
  /**
   * The holder's own clock plus a TTL, for people reading the file (and pipe versions before the
   * token). Never compared with this host's clock: staleness is judged by lease-watch.ts.
   */
  readonly expires_at: string;
  /** What the holder does with it: a command line, or the stage it computes. */
  readonly purpose: string;
  /** Run leases: the artifact keys the run uses. */
  readonly keys?: readonly KeyHash[];
  /** Random per claim: a holder renews or releases the file only while it still carries its token. */
  readonly token?: string;
  /** Bumped by every renew, so that every renew changes the file, whatever the holder's clock says. */
  readonly renewals?: number;
}

/** A lease as read: the exact text (what lease-watch.ts compares) and what it says. */
export interface LeaseFile {
  readonly text: string;
  readonly info: LeaseInfo;
}

/** Creates `path` with `info` only if absent; false when it exists. */
export async function createLeaseFile(path: string, info: LeaseInfo): Promise<boolean> {
  const tmp = tempPath(path, 'new');
  try {
    await writeFile(tmp, JSON.stringify(info));
    await link(tmp, path);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Replaces `path` with `info` in one rename: readers see the old lease or the new one. */
export async function rewriteLeaseFile(path: string, info: LeaseInfo): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(info), 'renew');
}

export async function readLeaseFile(path: string): Promise<LeaseFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const info = parseLease(text);
  return info ? { text, info } : undefined;
}

export async function readLease(path: string): Promise<LeaseInfo | undefined> {
  return (await readLeaseFile(path))?.info;
}

/** The lease in `text`, or undefined when it is not one (only something other than pipe writes such files). */
export function parseLease(text: string): LeaseInfo | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);
  const { pid, token, renewals, keys } = v;
  const [host, owner, acquired, expires, purpose] = [str('host'), str('owner'), str('acquired_at'), str('expires_at'), str('purpose')];
  if (typeof pid !== 'number' || host === undefined || owner === undefined || acquired === undefined || expires === undefined || purpose === undefined) return undefined;
  if ((token !== undefined && typeof token !== 'string') || (renewals !== undefined && typeof renewals !== 'number') || (keys !== undefined && !Array.isArray(keys))) return undefined;
  return {
    pid,
    host,
    owner,
    acquired_at: acquired,
    expires_at: expires,
    purpose,
    // The keys are read back as KeyHash only if they have the form of one.
    ...(Array.isArray(keys) ? { keys: keys.flatMap((k) => parseKeyHash(k) ?? []) } : {}),
    ...(typeof token === 'string' ? { token } : {}),
    ...(typeof renewals === 'number' ? { renewals } : {}),
  };
}
