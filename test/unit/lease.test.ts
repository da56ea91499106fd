/**
 * Leases (artifacts/lease.ts and its parts): atomic, serialised renews; ownership by token;
 * staleness by how long this host has watched a lease unchanged (fake clocks, no sleeps); and gc's
 * deleting half, which counts only what it deleted.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../../artifacts/collect.js';
import { sha256, type KeyHash } from '../../artifacts/hash.js';
import { LEASE_TTL_MS, LeaseDir, readLease, type Claim, type HeldLease } from '../../artifacts/lease.js';
import { tempPath } from '../../artifacts/atomic-write.js';
import { acquireLock, StoreLockedError } from '../../artifacts/lock.js';
import { LocalStore, type ArtifactStore } from '../../artifacts/store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipe-lease-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A monotonic clock that moves only when told to. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function held(claim: Claim): HeldLease {
  if (!claim.acquired) throw new Error(`expected to take the lease, held by ${claim.holder.owner}`);
  return claim.lease;
}

/** A lease file as another pipe process (here or on another host) would have written it. */
function foreign(host: string, pid: number, expiresInMs: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ pid, host, owner: `${host}-${pid}`, acquired_at: new Date().toISOString(), expires_at: new Date(Date.now() + expiresInMs).toISOString(), purpose: 'other', token: 'theirs', ...extra });
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a failure replays the same way. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const keyList = (n: number): KeyHash[] => Array.from({ length: n }, (_, i) => sha256(`k${i}`) as KeyHash);

describe('renewing a lease', () => {
  it('200 overlapping renews, read all along by concurrent readers, never show a torn lease and leave no temp file', async () => {
    const leases = await LeaseDir.open(dir, 'me');
    const lease = held(await leases.claim('run', 'pipe run', []));
    const path = join(dir, 'run');
    const rand = random(28);
    let done = false;
    const problems: string[] = [];
    let reads = 0;
    const reader = async (): Promise<void> => {
      while (!done) {
        try {
          const parsed = JSON.parse(await readFile(path, 'utf8')) as { token?: unknown };
          if (parsed.token !== lease.info.token) problems.push('another token');
          reads++;
        } catch (error) {
          problems.push(String(error));
        }
      }
    };
    const readers = [reader(), reader(), reader()];
    // Each call passes the run's growing key list, at random moments, mostly while others are in flight.
    let lastIssued: KeyHash[] = [];
    const calls = Array.from(
      { length: 200 },
      (_, i) =>
        new Promise<string>((resolve, reject) => {
          setTimeout(() => {
            lastIssued = keyList(i + 1);
            lease.renew(lastIssued).then(resolve, reject);
          }, Math.floor(rand() * 20));
        }),
    );
    const outcomes = await Promise.all(calls);
    done = true;
    await Promise.all(readers);
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(new Set(outcomes)).toEqual(new Set(['renewed']));
    expect(await readdir(dir)).toEqual(['run']);
    const final = await readLease(path);
    // The last call's key list is what the file ends with, whichever write carried it.
    expect(final?.keys).toEqual(lastIssued);
    expect(final?.renewals).toBeGreaterThan(0);
    expect(final?.renewals).toBeLessThanOrEqual(200);
    await lease.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('many leases renewed at once in one directory never share a temp file', async () => {
    const leases = await LeaseDir.open(dir, 'me');
    const all = await Promise.all(Array.from({ length: 20 }, async (_, i) => held(await leases.claim(`k${i}`, 'stage'))));
    await Promise.all(all.flatMap((lease) => Array.from({ length: 10 }, () => lease.renew())));
    expect((await readdir(dir)).sort()).toEqual(all.map((_, i) => `k${i}`).sort());
    const names = new Set(Array.from({ length: 1000 }, () => tempPath(join(dir, 'k'), 'renew')));
    expect(names.size).toBe(1000);
  });

  it('a renew still queued or in flight when the lease is released never brings it back', async () => {
    const leases = await LeaseDir.open(dir, 'me');
    const rand = random(5);
    for (let round = 0; round < 40; round++) {
      const lease = held(await leases.claim('k', 'stage'));
      const renewing = [lease.renew(), lease.renew(keyList(2))];
      // Release at a different point of the renew each round: before it starts, mid-way, after.
      for (let hops = Math.floor(rand() * 6); hops > 0; hops--) await new Promise((next) => setImmediate(next));
      await lease.release();
      for (const outcome of await Promise.all(renewing)) expect(['renewed', 'released']).toContain(outcome);
      expect(await lease.renew()).toBe('released');
      expect(await readdir(dir), `round ${round}`).toEqual([]);
    }
  });

  it('a holder whose lease another owner took gives up: it stops renewing, reports it lost, and leaves the new lease alone', async () => {
    const clock = fakeClock();
    const mine = await LeaseDir.open(dir, 'first');
    const theirs = await LeaseDir.open(dir, 'second', { clock: clock.now });
    const lease = held(await mine.claim('k', 'stage'));
    expect(await theirs.claim('k', 'stage')).toMatchObject({ acquired: false, holder: { owner: 'first' } });
    // The first holder stalls for a whole TTL: the second has watched its lease unchanged and breaks it.
    clock.advance(LEASE_TTL_MS);
    const taken = await theirs.claim('k', 'stage');
    expect(taken).toMatchObject({ acquired: true, brokeStale: { owner: 'first' } });
    const now = await readFile(join(dir, 'k'), 'utf8');
    expect(await lease.renew(keyList(1))).toBe('lost');
    expect(lease.state).toBe('lost');
    expect(await lease.renew()).toBe('lost');
    await lease.release();
    expect(await readFile(join(dir, 'k'), 'utf8')).toBe(now);
    expect(await held(taken).renew()).toBe('renewed');
  });
});

describe('judging a lease stale', () => {
  const other = 'build-17.elsewhere.example';

  it('by how long this host has seen it unchanged, not by the holder’s clock', async () => {
    const clock = fakeClock();
    const leases = await LeaseDir.open(dir, 'me', { clock: clock.now });
    // Its expiry, by the other host's clock, is long past; by ours nothing says it is stale yet.
    await writeFile(join(dir, 'k'), foreign(other, 4242, -3_600_000));
    expect(await leases.claim('k', 'stage')).toMatchObject({ acquired: false, holder: { host: other } });
    clock.advance(LEASE_TTL_MS - 1);
    expect(await leases.claim('k', 'stage')).toMatchObject({ acquired: false });
    clock.advance(1);
    const claim = await leases.claim('k', 'stage');
    expect(claim).toMatchObject({ acquired: true, brokeStale: { host: other, pid: 4242 } });
    await held(claim).release();
  });

  it('a lease that keeps changing stays live whatever its expiry says; one that stops is stale a TTL later', async () => {
    const clock = fakeClock();
    const leases = await LeaseDir.open(dir, 'me', { clock: clock.now });
    const path = join(dir, 'run');
    for (let renewal = 0; renewal < 6; renewal++) {
      await writeFile(path, foreign(other, 7, -3_600_000, { renewals: renewal }));
      expect((await leases.live()).map((l) => l.host), `renewal ${renewal}`).toEqual([other]);
      clock.advance(LEASE_TTL_MS / 3);
    }
    // The holder's expiry is an hour ahead, but it stopped renewing.
    await writeFile(path, foreign(other, 7, 3_600_000, { renewals: 99 }));
    expect(await leases.live()).toHaveLength(1);
    clock.advance(LEASE_TTL_MS - 1);
    expect(await leases.sweepStale()).toBe(0);
    clock.advance(1);
    expect(await leases.live()).toEqual([]);
    expect(await leases.sweepStale()).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a lease naming a process of this host that is gone is stale at once', async () => {
    const leases = await LeaseDir.open(dir, 'me', { clock: fakeClock().now });
    await writeFile(join(dir, 'k'), foreign(hostname(), 999_999_999, 3_600_000));
    expect(await leases.claim('k', 'stage')).toMatchObject({ acquired: true, brokeStale: { pid: 999_999_999 } });
  });

  it('a lease of a live process on this host is respected until it has gone a TTL without a renew (a hung holder)', async () => {
    const clock = fakeClock();
    const leases = await LeaseDir.open(dir, 'me', { clock: clock.now });
    await writeFile(join(dir, 'k'), foreign(hostname(), process.pid, 3_600_000));
    expect(await leases.claim('k', 'stage')).toMatchObject({ acquired: false });
    clock.advance(LEASE_TTL_MS - 1);
    expect(await leases.claim('k', 'stage')).toMatchObject({ acquired: false });
    clock.advance(1);
    expect(await leases.claim('k', 'stage')).toMatchObject({ acquired: true });
  });

  it('reads leases written by earlier versions (no token, no renewal count)', async () => {
    await writeFile(join(dir, 'old'), JSON.stringify({ pid: 1, host: other, owner: 'x', acquired_at: 'a', expires_at: 'b', purpose: 'p', keys: ['not-a-key', sha256('k')] }));
    expect(await readLease(join(dir, 'old'))).toEqual({ pid: 1, host: other, owner: 'x', acquired_at: 'a', expires_at: 'b', purpose: 'p', keys: [sha256('k')] });
    await writeFile(join(dir, 'junk'), '{"pid": "one"}');
    expect(await readLease(join(dir, 'junk'))).toBeUndefined();
  });

  it('gc’s lock held on another host is broken once it has stayed unchanged for a TTL, and a live one is busy', async () => {
    const clock = fakeClock();
    const lockFile = join(dir, 'leases', 'exclusive', 'gc');
    await LeaseDir.open(join(dir, 'leases', 'exclusive'), 'setup');
    await writeFile(lockFile, foreign(other, 5, 3_600_000));
    const lock = await acquireLock(dir, 'pipe gc', 'gc', { clock: clock.now, sleep: async (ms) => clock.advance(ms) });
    expect(lock.brokeStale).toMatchObject({ host: other, pid: 5 });
    await lock.release();

    let renewal = 0;
    await writeFile(lockFile, foreign(other, 6, 3_600_000));
    const alive = async (ms: number): Promise<void> => {
      clock.advance(ms);
      await writeFile(lockFile, foreign(other, 6, 3_600_000, { renewals: ++renewal }));
    };
    await expect(acquireLock(dir, 'pipe gc', 'gc', { clock: clock.now, sleep: alive })).rejects.toBeInstanceOf(StoreLockedError);
    expect(renewal).toBeGreaterThanOrEqual(12);
  });
});

describe('gc deleting', () => {
  it('counts only what it deleted, and says which it skipped as in use or could not delete', async () => {
    const local = await LocalStore.open(join(dir, 'store'));
    const keys = keyList(4);
    const doomed = keys.map((key, i) => ({ key, stage: `s${i}`, size: 10 * (i + 1) }));
    const run = held(await local.runLeases.claim('run-1', 'pipe run', [keys[1]!]));
    const broken = keys[2]!;
    // A store whose remove fails for one key (say, a permission error on a shared filesystem).
    const store: ArtifactStore = Object.assign(Object.create(local) as ArtifactStore, {
      remove: (key: KeyHash) => (key === broken ? Promise.reject(new Error('EACCES: permission denied')) : local.remove(key)),
    });
    const result = await collect(store, doomed);
    expect(result.deleted.map((d) => d.stage)).toEqual(['s0', 's3']);
    expect(result.inUse.map((d) => d.stage)).toEqual(['s1']);
    expect(result.failed).toEqual([{ artifact: doomed[2], message: 'EACCES: permission denied' }]);
    await run.release();
    await local.close();
  });
});
