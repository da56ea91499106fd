/**
 * A lease this process holds: renewed by rewriting it, released by deleting it, both only while
 * the file still carries this holder's token.
 *
 * Renews run one at a time: a heartbeat and a "new key" renew may be called while another is
 * still writing, and two overlapping read-check-write sequences could otherwise put an older key
 * list back over a newer one. Calls made while a renew is in flight share the next write, which
 * takes the latest key list given, so 200 overlapping calls cost at most two writes in a row.
 *
 * Each renew first re-reads the file: if it is gone or carries another token (broken as stale
 * while this process stalled, and taken by someone else), the lease is lost. The holder then
 * stops renewing and says so, rather than overwrite the new holder's lease. A holder that stalls
 * for a whole TTL between that read and its rename can still overwrite a lease taken meanwhile;
 * write-once commits keep the store right even then (same key, same work).
 */
import { rm } from 'node:fs/promises';
import type { KeyHash } from './hash.js';
import { LEASE_TTL_MS, readLeaseFile, rewriteLeaseFile, type LeaseInfo } from './lease-file.js';

export type LeaseState = 'held' | 'lost' | 'released';
/** What a renew found: still ours and rewritten, taken by someone else, or released by us. */
export type RenewOutcome = 'renewed' | Exclude<LeaseState, 'held'>;

export interface HeldLease {
  readonly path: string;
  readonly info: LeaseInfo;
  readonly state: LeaseState;
  /** Rewrites the lease (for run leases, with a new key list) while it is still ours. */
  renew(keys?: readonly KeyHash[]): Promise<RenewOutcome>;
  /** Deletes the lease if it is still ours; later renews do nothing. */
  release(): Promise<void>;
}

interface PendingRenew {
  keys: readonly KeyHash[] | undefined;
  result?: Promise<RenewOutcome>;
}

export class Holding implements HeldLease {
  private current: LeaseInfo;
  private status: LeaseState = 'held';
  /** Settles when the last queued write (renew or release) has finished. */
  private tail: Promise<unknown> = Promise.resolve();
  /** A renew queued behind the one in flight, which later calls join. */
  private pending: PendingRenew | undefined;

  constructor(
    readonly path: string,
    first: LeaseInfo,
    private readonly wallClock: () => number = Date.now,
  ) {
    this.current = first;
  }

  get info(): LeaseInfo {
    return this.current;
  }

  get state(): LeaseState {
    return this.status;
  }

  renew(keys?: readonly KeyHash[]): Promise<RenewOutcome> {
    const queued = this.pending;
    if (queued?.result) {
      if (keys) queued.keys = keys;
      return queued.result;
    }
    const slot: PendingRenew = { keys };
    const result = this.tail.then(() => {
      // From here on, new calls queue behind this write instead of joining it.
      if (this.pending === slot) this.pending = undefined;
      return this.write(slot.keys);
    });
    slot.result = result;
    this.pending = slot;
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async write(keys: readonly KeyHash[] | undefined): Promise<RenewOutcome> {
    if (this.status !== 'held') return this.status;
    const now = await readLeaseFile(this.path);
    if (now?.info.token !== this.current.token) {
      this.status = 'lost';
      return 'lost';
    }
    const next: LeaseInfo = {
      ...this.current,
      expires_at: new Date(this.wallClock() + LEASE_TTL_MS).toISOString(),
      renewals: (this.current.renewals ?? 0) + 1,
      ...(keys ? { keys: [...keys] } : {}),
    };
    await rewriteLeaseFile(this.path, next);
    this.current = next;
    return 'renewed';
  }

  release(): Promise<void> {
    const wasHeld = this.status === 'held';
    this.status = 'released';
    // After any write in flight, so that no renew puts the file back once it is deleted.
    const done = this.tail.then(async () => {
      if (!wasHeld) return;
      const now = await readLeaseFile(this.path);
      if (now?.info.token === this.current.token) await rm(this.path, { force: true });
    });
    this.tail = done.catch(() => undefined);
    return done;
  }
}
