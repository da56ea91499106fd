/**
 * The `--jobs` slots, shared by weight: a stage asks for the threads it can use and holds some of the
 * slots while it runs, so the threads of all running stages never exceed `--jobs`.
 *
 * Why not p-queue (which the executor used before): its concurrency counts tasks, each one slot, so
 * two stages that each run two threads under `--jobs 2` kept four threads busy on two cores.
 *
 * Policy, in order:
 * 1. Waiting stages are served highest priority first (the longest path to the end of the pipeline),
 *    first come first served on ties. A resizable stage starts on one slot (it grows by 3.); any
 *    other gets as many free slots as it asked for, at least one. A free core never idles while a
 *    stage waits.
 * 2. A waiting stage with no free slot takes back a slot lent to a running stage of no higher
 *    priority.
 * 3. Slots nobody waits for are lent to running resizable stages that asked for more than they
 *    hold, highest priority first: when the critical path is all that is left, it gets every core.
 *    So two trainings side by side run on one core each, and the one left grows to all of them.
 * Grants change size only for stages that said they can (`resizable`), and only while they run;
 * the stages this serves (data-parallel training) give the same result on any thread count. A slot
 * taken back is counted free at once: the stage gives the thread up at its next step, so for one
 * step one thread more may run than `--jobs`.
 */
export interface SlotGrant {
  /** Slots (threads) held now: at least 1, at most what was asked. */
  readonly threads: number;
  release(): void;
}

export interface SlotRequest {
  readonly want: number;
  readonly priority: number;
  /** Called with the new size whenever slots are lent to or taken back from a running grant. */
  readonly resize?: (threads: number) => void;
}

interface Held {
  threads: number;
  readonly want: number;
  readonly priority: number;
  readonly resize: ((threads: number) => void) | undefined;
}

interface Waiting extends Held {
  readonly order: number;
  readonly grant: (held: Held) => void;
}

export class SlotPool {
  private free: number;
  private readonly waiting: Waiting[] = [];
  private readonly running = new Set<Held>();
  private arrivals = 0;

  constructor(readonly total: number) {
    if (!Number.isInteger(total) || total < 1) throw new RangeError(`slot count must be a positive integer, got ${total}`);
    this.free = total;
  }

  /** Slots not held now. */
  get available(): number {
    return this.free;
  }

  /** Resolves when granted; `want` is clamped to [1, total]. */
  acquire(request: SlotRequest): Promise<SlotGrant> {
    return new Promise((resolve) => {
      const want = Math.max(1, Math.min(this.total, Math.floor(request.want)));
      this.waiting.push({
        threads: 0,
        want,
        priority: request.priority,
        resize: request.resize,
        order: this.arrivals++,
        grant: (held) => {
          let released = false;
          resolve({
            get threads() {
              return held.threads;
            },
            release: () => {
              if (released) return;
              released = true;
              this.running.delete(held);
              this.free += held.threads;
              this.dispatch();
            },
          });
        },
      });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (;;) {
      const next = this.nextWaiting();
      if (!next) break;
      if (this.free === 0 && !this.takeBackFor(next.priority)) break;
      this.waiting.splice(this.waiting.indexOf(next), 1);
      const held: Held = { threads: next.resize ? 1 : Math.min(next.want, this.free), want: next.want, priority: next.priority, resize: next.resize };
      this.free -= held.threads;
      this.running.add(held);
      next.grant(held);
    }
    if (this.waiting.length === 0) this.lend();
  }

  private nextWaiting(): Waiting | undefined {
    let best: Waiting | undefined;
    for (const w of this.waiting) if (!best || w.priority > best.priority || (w.priority === best.priority && w.order < best.order)) best = w;
    return best;
  }

  /** One slot back from the lowest-priority running stage that holds more than one, if not above `priority`. */
  private takeBackFor(priority: number): boolean {
    let lender: Held | undefined;
    for (const h of this.running) if (h.resize && h.threads > 1 && h.priority <= priority && (!lender || h.priority < lender.priority)) lender = h;
    if (!lender) return false;
    lender.threads--;
    this.free++;
    lender.resize?.(lender.threads);
    return true;
  }

  /** Idle slots to running stages that can use them, highest priority first. */
  private lend(): void {
    const borrowers = [...this.running].filter((h) => h.resize && h.threads < h.want).sort((a, b) => b.priority - a.priority);
    for (const h of borrowers) {
      if (this.free === 0) break;
      const more = Math.min(this.free, h.want - h.threads);
      h.threads += more;
      this.free -= more;
      h.resize?.(h.threads);
    }
  }
}
