/**
 * How long this process has seen each lease file unchanged, by this host's monotonic clock.
 *
 * A lease's holder rewrites it on every renew, so a lease that has not changed for a whole TTL
 * has a holder that stopped renewing. Judging it so needs no timestamp from the holder's host:
 * comparing another machine's clock with ours would break a live lease whenever the clocks drift
 * apart by a TTL, and keep a dead one whenever they drift the other way. The price: a process
 * that sees a lease for the first time cannot call it stale before it has watched it for a TTL,
 * so one-shot commands (gc) keep a dead host's run lease as live, which is the safe side; runs
 * that last longer than a TTL sweep such leases from their heartbeat.
 */

/** Milliseconds from an arbitrary origin that never jump (not wall-clock time). */
export type MonotonicClock = () => number;

export const systemClock: MonotonicClock = () => performance.now();

export class LeaseWatch {
  private readonly seen = new Map<string, { readonly text: string; readonly since: number }>();

  constructor(private readonly clock: MonotonicClock = systemClock) {}

  /** How long `path` has held exactly `text`, as far as this process has looked (0 when new). */
  unchangedFor(path: string, text: string): number {
    const now = this.clock();
    const last = this.seen.get(path);
    if (last?.text === text) return now - last.since;
    this.seen.set(path, { text, since: now });
    return 0;
  }

  /** The lease is gone (released, broken or taken by us): a later one there starts afresh. */
  forget(path: string): void {
    this.seen.delete(path);
  }
}
