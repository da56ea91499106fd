/** The weighted `--jobs` slots: grants by priority, up to what is free, never more than the total. */
import { describe, expect, it } from 'vitest';
import { SlotPool, type SlotGrant } from '../../runner/execute/slots.js';

/** Lets already-resolved grants run their continuations. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SlotPool', () => {
  it('grants what is asked while it is free, and the rest of the free slots after that', async () => {
    const pool = new SlotPool(3);
    const a = await pool.acquire({ want: 2, priority: 0 });
    expect(a.threads).toBe(2);
    const b = await pool.acquire({ want: 5, priority: 0 });
    // One slot left: a waiting stage starts on it rather than leaving a core idle.
    expect(b.threads).toBe(1);
    expect(pool.available).toBe(0);
    a.release();
    b.release();
    expect(pool.available).toBe(3);
    expect((await pool.acquire({ want: 99, priority: 0 })).threads).toBe(3);
  });

  it('hands freed slots to the highest priority first, first come first served on ties', async () => {
    const pool = new SlotPool(1);
    const first = await pool.acquire({ want: 1, priority: 0 });
    const order: string[] = [];
    const grants: SlotGrant[] = [];
    const ask = (name: string, priority: number): void =>
      void pool.acquire({ want: 1, priority: priority }).then((g) => {
        order.push(name);
        grants.push(g);
      });
    ask('low', 1);
    ask('high-1', 5);
    ask('high-2', 5);
    ask('mid', 3);
    first.release();
    for (let i = 0; i < 4; i++) {
      await settle();
      grants.shift()?.release();
    }
    await settle();
    expect(order).toEqual(['high-1', 'high-2', 'mid', 'low']);
  });

  it('never grants more than the total, whatever the sequence of asks and releases', async () => {
    const pool = new SlotPool(4);
    let busy = 0;
    let peak = 0;
    let seed = 7;
    const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const held: SlotGrant[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      pending.push(
        pool.acquire({ want: 1 + random(6), priority: random(4) }).then((g) => {
          expect(g.threads).toBeGreaterThanOrEqual(1);
          busy += g.threads;
          peak = Math.max(peak, busy);
          expect(busy).toBeLessThanOrEqual(4);
          held.push(g);
        }),
      );
      if (random(3) === 0 && held.length) {
        const g = held.splice(random(held.length), 1)[0]!;
        busy -= g.threads;
        g.release();
        g.release(); // a second release is a no-op
      }
      await settle();
    }
    while (held.length || pool.available < 4) {
      const g = held.shift();
      if (g) {
        busy -= g.threads;
        g.release();
      }
      await settle();
    }
    await Promise.all(pending);
    expect(peak).toBe(4);
    expect(pool.available).toBe(4);
  });

  it('refuses a slot count that is not a positive integer', () => {
    expect(() => new SlotPool(0)).toThrow(RangeError);
    expect(() => new SlotPool(1.5)).toThrow(RangeError);
  });

  it('lends idle slots to a resizable stage, and takes them back for a waiting stage of no higher priority', async () => {
    const pool = new SlotPool(3);
    const sizes: Record<string, number[]> = { a: [], b: [] };
    const a = await pool.acquire({ want: 3, priority: 2, resize: (n) => sizes['a']!.push(n) });
    // Alone: it starts on one slot and is lent the two idle ones.
    expect(a.threads).toBe(3);
    expect(sizes['a']).toEqual([3]);
    const b = await pool.acquire({ want: 2, priority: 2, resize: (n) => sizes['b']!.push(n) });
    // An equal-priority arrival takes one back; nothing is left to lend.
    expect([a.threads, b.threads]).toEqual([2, 1]);
    expect(pool.available).toBe(0);
    // A lower-priority stage waits: it takes nothing from stages above it.
    let low: SlotGrant | undefined;
    void pool.acquire({ want: 1, priority: 1 }).then((g) => (low = g));
    await settle();
    expect(low).toBeUndefined();
    // A higher-priority one takes back from the lowest-priority lender.
    const c = await pool.acquire({ want: 1, priority: 5 });
    expect([a.threads, b.threads, c.threads]).toEqual([1, 1, 1]);
    c.release();
    await settle();
    // The freed slot goes to the waiting stage before any lending.
    expect(low?.threads).toBe(1);
    low!.release();
    // Then it is lent again, highest priority first (a and b tie: a came first).
    expect(a.threads + b.threads).toBe(3);
    b.release();
    expect(a.threads).toBe(3);
    expect(sizes['a']).toEqual([3, 2, 1, 2, 3]);
    a.release();
    expect(pool.available).toBe(3);
  });

  it('never lends to a stage that cannot resize', async () => {
    const pool = new SlotPool(4);
    const fixed = await pool.acquire({ want: 2, priority: 0 });
    expect(fixed.threads).toBe(2);
    expect(pool.available).toBe(2);
  });
});
