/**
 * The executor with a controllable fake runner: the test decides when each stage finishes, so
 * slot limits, critical-path order, aborts and failures are checked without sleeps or timing.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStore } from '../../artifacts/store.js';
import { isManyInput } from '../../runner/cli/context.js';
import { loadPipeline } from '../../runner/config/load.js';
import type { StageRegistry } from '../../runner/config/resolve.js';
import type { Plan } from '../../runner/config/types.js';
import type { RunEvent } from '../../runner/execute/events.js';
import { execute } from '../../runner/execute/executor.js';
import type { RunOutcome, StageRunner, StageWork } from '../../runner/execute/stage-runner.js';
import { plan } from '../../runner/plan/plan.js';
import { STAGES } from '../../stages/index.js';
import { StageInputError } from '../../stages/types.js';

// `load` reads the shipped IDX files (hashed once into the key); everything else is a chain on it.
const PIPELINE = `stages:
  load: { kind: load, params: { train_limit: 100, test_limit: 10 } }
  a1: { kind: normalize, inputs: { data: load } }
  a2: { kind: flatten, inputs: { data: a1 } }
  a3: { kind: split, inputs: { data: a2 } }
  b1: { kind: normalize, inputs: { data: load }, params: { method: standardize } }
  c1: { kind: inspect, inputs: { data: load } }
  d1: { kind: inspect, inputs: { data: load }, params: { samples_per_class: 3 } }
`;

async function setup(pipeline = PIPELINE, registry: StageRegistry = STAGES): Promise<{ planned: Plan; store: LocalStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-exec-'));
  const file = join(dir, 'p.yaml');
  await writeFile(file, pipeline);
  const planned = plan(await loadPipeline(file, { overrides: [], isManyInput }), registry);
  return { planned, store: await LocalStore.open(join(dir, 'store')) };
}

/** A runner whose stages finish only when the test says so. */
function fakeRunner(store: LocalStore) {
  const started: string[] = [];
  const pending = new Map<string, { work: StageWork; finish: (ok: boolean) => Promise<void> }>();
  const waiters: Array<() => void> = [];
  /** Thread grant changes each running stage was told of (hooks.watchThreads). */
  const resized: Array<[string, number]> = [];
  const runner: StageRunner = {
    usesLocalCores: true,
    run: (work, hooks) =>
      new Promise<RunOutcome>((resolve, reject) => {
        started.push(work.stage);
        hooks.watchThreads?.((n) => resized.push([work.stage, n]));
        pending.set(work.stage, {
          work,
          finish: async (ok) => {
            pending.delete(work.stage);
            if (!ok) return reject(new StageInputError(`${work.stage} refused its input`));
            const temp = await store.createTemp(work.key);
            await writeFile(join(temp, 'out.txt'), work.stage);
            const manifest = await store.commit(temp, { key: work.key, stage: work.stage, pipeline: work.pipeline, kind: work.kind, key_record: work.keyRecord, inputs: {}, metrics: {}, started_at: '', duration_s: 0, environment: {} });
            resolve({ manifest, dir: store.artifactDir(work.key), seconds: 0, metrics: {} });
          },
        });
        waiters.splice(0).forEach((w) => w());
      }),
  };
  /** Resolves once `n` stages are running (or at once if they are). */
  const running = async (n: number): Promise<string[]> => {
    while (pending.size < n) await new Promise<void>((r) => waiters.push(r));
    return [...pending.keys()].sort();
  };
  const finish = (stage: string, ok = true): Promise<void> => {
    const p = pending.get(stage);
    if (!p) throw new Error(`${stage} is not running (running: ${[...pending.keys()].join(', ')})`);
    return p.finish(ok);
  };
  return { runner, started, running, finish, pending, resized };
}

function run(planned: Plan, store: LocalStore, runner: StageRunner, jobs: number, signal = new AbortController().signal) {
  const events: RunEvent[] = [];
  const listeners: Array<() => void> = [];
  const emit = (e: RunEvent): void => {
    events.push(e);
    listeners.splice(0).forEach((l) => l());
  };
  const done = execute(planned, { store, jobs, backend: 'auto', runner, emit, signal, previous: new Map(), environment: {}, pollMs: 1 });
  /** Resolves once `n` events of `type` have been emitted. */
  const seen = async (type: RunEvent['type'], n: number): Promise<void> => {
    while (events.filter((e) => e.type === type).length < n) await new Promise<void>((r) => listeners.push(r));
  };
  return { events, done, seen };
}

describe('executor (fake runner)', () => {
  it('never runs more stages than --jobs, and gives a freed slot to the longest remaining path first', async () => {
    const { planned, store } = await setup();
    const fake = fakeRunner(store);
    const { done, events } = run(planned, store, fake.runner, 1);
    expect(await fake.running(1)).toEqual(['load']);
    await fake.finish('load');
    while (fake.started.length < 7 || fake.pending.size) {
      const now = await fake.running(1);
      expect(fake.pending.size).toBe(1);
      await fake.finish(now[0]!);
    }
    const result = await done;
    expect(result.summaries.filter((s) => s.status === 'ran').map((s) => s.stage).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'c1', 'd1', 'load']);
    // Every time the slot was handed out, it went to the waiting stage with the longest remaining path.
    const waiting = new Map<string, number>();
    let checked = 0;
    for (const e of events) {
      if (e.type === 'stage-queued') waiting.set(e.stage, e.priority);
      if (e.type !== 'stage-start') continue;
      const best = Math.max(...waiting.values());
      expect(waiting.get(e.stage), `${e.stage} started while ${[...waiting].map(([s, p]) => `${s}:${p}`).join(' ')} waited`).toBe(best);
      if (waiting.size > 1) checked++;
      waiting.delete(e.stage);
    }
    expect(checked).toBeGreaterThan(0);
    expect(planned.priority.get('a1')).toBeGreaterThan(planned.priority.get('c1')!);
  });

  it('runs up to --jobs stages at once', async () => {
    const { planned, store } = await setup();
    const fake = fakeRunner(store);
    const { done, seen } = run(planned, store, fake.runner, 3);
    await fake.finish((await fake.running(1))[0]!);
    await seen('stage-queued', 5);
    expect(await fake.running(3)).toHaveLength(3);
    expect(fake.pending.size).toBe(3);
    while (fake.started.length < 7 || fake.pending.size) await fake.finish((await fake.running(1))[0]!);
    await done;
  });

  it('a failing stage skips its dependents only; a second run reuses what finished and says why the rest runs', async () => {
    const { planned, store } = await setup();
    const fake = fakeRunner(store);
    const { done, events } = run(planned, store, fake.runner, 4);
    await fake.running(1);
    await fake.finish('load');
    await fake.running(4);
    await fake.finish('a1', false);
    for (const s of ['b1', 'c1', 'd1']) await fake.finish(s);
    const result = await done;
    const status = Object.fromEntries(result.summaries.map((s) => [s.stage, s.status]));
    expect(status).toEqual({ load: 'ran', a1: 'failed', a2: 'skipped', a3: 'skipped', b1: 'ran', c1: 'ran', d1: 'ran' });
    expect(events.find((e) => e.type === 'stage-failed')).toMatchObject({ stage: 'a1', error: { reason: 'stage-input', message: 'a1 refused its input' } });

    const again = fakeRunner(store);
    const second = run(planned, store, again.runner, 4);
    expect(await again.running(1)).toEqual(['a1']);
    await again.finish('a1');
    await again.finish((await again.running(1))[0]!);
    await again.finish((await again.running(1))[0]!);
    const r2 = await second.done;
    expect(r2.summaries.filter((s) => s.status === 'cached').map((s) => s.stage).sort()).toEqual(['b1', 'c1', 'd1', 'load']);
    expect(second.events.find((e) => e.type === 'stage-start' && e.stage === 'a1')).toMatchObject({ reasons: [{ code: 'never-run' }] });
  });

  it('Ctrl-C while stages wait for a slot: the running one finishes, the waiting ones are skipped as interrupted', async () => {
    const { planned, store } = await setup();
    const fake = fakeRunner(store);
    const controller = new AbortController();
    const { done } = run(planned, store, fake.runner, 1, controller.signal);
    await fake.running(1);
    await fake.finish('load');
    const [busy] = await fake.running(1);
    controller.abort();
    await fake.finish(busy!);
    const result = await done;
    expect(fake.started).toEqual(['load', busy]);
    const skipped = result.summaries.filter((s) => s.status === 'skipped');
    expect(skipped.length).toBe(5);
    expect(skipped.every((s) => s.detail === 'interrupted' || s.detail?.startsWith('input stage'))).toBe(true);
  });

  it('--force reruns a cached stage with its own reason', async () => {
    const { planned, store } = await setup();
    const fake = fakeRunner(store);
    const first = run(planned, store, fake.runner, 7);
    // Finish whatever runs until all seven stages have run.
    while (fake.started.length < 7 || fake.pending.size) await fake.finish((await fake.running(1))[0]!);
    await first.done;
    const again = fakeRunner(store);
    const events: RunEvent[] = [];
    const forced = execute(planned, { store, jobs: 2, backend: 'auto', runner: again.runner, emit: (e) => events.push(e), signal: new AbortController().signal, previous: new Map(), environment: {}, force: new Set(['c1']) });
    await again.finish((await again.running(1))[0]!);
    await forced;
    expect(again.started).toEqual(['c1']);
    expect(events.find((e) => e.type === 'stage-start')).toMatchObject({ stage: 'c1', reasons: [{ code: 'forced' }] });
  });

  it('gives each stage up to the threads it asks for, and never more threads in all than --jobs', async () => {
    // `wide` is inspect asking for 2 threads, like a data-parallel training with 2 shards.
    const { planned, store } = await setup(
      `stages:
  load: { kind: load, params: { train_limit: 100, test_limit: 10 } }
  w1: { kind: wide, inputs: { data: load } }
  w2: { kind: wide, inputs: { data: load }, params: { samples_per_class: 2 } }
  w3: { kind: wide, inputs: { data: load }, params: { samples_per_class: 3 } }
  n1: { kind: inspect, inputs: { data: load } }
`,
      { ...STAGES, wide: { ...STAGES['inspect']!, kind: 'wide', threads: () => ({ max: 2 }) } },
    );
    const fake = fakeRunner(store);
    const { done } = run(planned, store, fake.runner, 3);
    await fake.finish((await fake.running(1))[0]!);
    const granted = new Map<string, number>();
    const threadsNow = (): number => [...fake.pending.values()].reduce((sum, p) => sum + (p.work.threads ?? 1), 0);
    // The first stage after load finds 3 free slots: a wide one gets its 2, the next whatever is left.
    const first = await fake.running(2);
    expect(threadsNow()).toBe(3);
    for (const stage of first) granted.set(stage, fake.pending.get(stage)!.work.threads ?? 1);
    while (fake.started.length < 5 || fake.pending.size) {
      const now = await fake.running(1);
      expect(threadsNow()).toBeLessThanOrEqual(3);
      for (const stage of now) granted.set(stage, fake.pending.get(stage)!.work.threads ?? 1);
      await fake.finish(now[0]!);
    }
    await done;
    expect(granted.get('n1')).toBe(1);
    for (const w of ['w1', 'w2', 'w3']) expect(granted.get(w)).toBeGreaterThanOrEqual(1);
    expect([...granted.values()].some((t) => t === 2)).toBe(true);
    expect([...granted.values()].every((t) => t <= 2)).toBe(true);
  });

  it('lends a resizable stage the cores nobody waits for, and takes one back when a stage needs it', async () => {
    // `elastic` is inspect declared like a data-parallel training: up to 3 threads, resizable.
    const { planned, store } = await setup(
      `stages:
  load: { kind: load, params: { train_limit: 100, test_limit: 10 } }
  norm: { kind: normalize, inputs: { data: load } }
  grow: { kind: elastic, inputs: { data: norm } }
  late: { kind: inspect, inputs: { data: norm } }
`,
      { ...STAGES, elastic: { ...STAGES['inspect']!, kind: 'elastic', threads: () => ({ max: 3, resizable: true }) } },
    );
    const fake = fakeRunner(store);
    const { done, events } = run(planned, store, fake.runner, 3);
    await fake.finish((await fake.running(1))[0]!);
    await fake.finish((await fake.running(1))[0]!);
    await fake.running(2);
    const grow = fake.pending.get('grow')!;
    const late = fake.pending.get('late')!;
    // Two stages on three slots: one runs on 2 (lent or kept), the other on 1.
    const threadsOf = (stage: string, initial: number): number => fake.resized.filter(([s]) => s === stage).at(-1)?.[1] ?? initial;
    expect(threadsOf('grow', grow.work.threads ?? 1) + (late.work.threads ?? 1)).toBe(3);
    await fake.finish('late');
    // Nobody waits any more: the resizable stage is lent every slot.
    expect(threadsOf('grow', grow.work.threads ?? 1)).toBe(3);
    expect(events.filter((e) => e.type === 'stage-threads' && e.stage === 'grow').at(-1)).toMatchObject({ threads: 3 });
    await fake.finish('grow');
    await done;
  });
});
