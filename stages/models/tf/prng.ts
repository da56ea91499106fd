/**
 * Small seeded PRNG (mulberry32) for shuffling, augmentation and per-layer seeds.
 * tfjs only seeds individual ops; everything else here must not touch Math.random,
 * so the same seed gives the same weights on the same backend.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // Mix the seed so nearby seeds (1, 2, 3…) start far apart.
    this.state = (Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x6d2b79f5) >>> 0;
  }

  /**
   * The generator's whole state (one uint32): a training checkpoint saves it so a resumed training
   * draws exactly the numbers the straight one would have drawn next.
   */
  getState(): number {
    return this.state;
  }

  /** Continues the stream from a state `getState` returned. */
  setState(state: number): void {
    if (!Number.isInteger(state) || state < 0 || state > 0xffffffff) throw new Error(`Rng state must be a uint32, got ${state}`);
    this.state = state >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A fresh 31-bit seed for a tfjs op or initializer. */
  seed(): number {
    return this.int(0x7fffffff);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i]!;
      a[i] = a[j]!;
      a[j] = tmp;
    }
    return a;
  }
}
