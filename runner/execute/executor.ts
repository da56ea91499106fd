/**
 * Executes a Plan: each stage waits for its inputs, computes its key from their content hashes,
 * reuses a verified artifact when one exists, and otherwise runs with its share of the `--jobs` slots
 * (slots.ts: critical path first, threads by weight). A failed stage skips its dependents only; independent branches finish.
 *
 * Several processes may execute plans on one store at once. Before computing a key, a stage takes
 * the key's lease; if another process holds it, the stage waits until that process commits (then it
 * is a cache hit) or gives up (then this process computes it). Every await of a stage's life is
 * inside its error boundary: a store failure fails that stage, never the whole run.
 */
import type { KeyHash } from '../../artifacts/hash.js';
import type { KeyRecord, StaleReason } from '../../artifacts/key.js';
import type { HeldLease } from '../../artifacts/lease.js';
import type { ArtifactStore, Lookup, Manifest } from '../../artifacts/store.js';
import type { Plan, PlannedStage } from '../config/types.js';
import { errorInfo } from './error-info.js';
import type { RunEvent, StageSummary } from './events.js';
import { StageFailedError } from './launcher.js';
import { inputHashes, perInput, reasonsFor, resolveStage } from './resolve.js';
import type { StageRecord } from './run-records.js';
import { SlotPool } from './slots.js';
import type { InputKeyRef, StageRunner, StageWork } from './stage-runner.js';

export interface ExecuteOptions {
  readonly store: ArtifactStore;
  readonly jobs: number;
  readonly backend: string;
  /** Runs a stale stage and commits it: in this process (localRunner) or on queue workers. */
  readonly runner: StageRunner;
  readonly emit: (event: RunEvent) => void;
  readonly signal: AbortSignal;
  /** Stages to run (targets plus ancestors); all when absent. */
  readonly selection?: ReadonlySet<string>;
  /** Stages to rerun even when cached. */
  readonly force?: ReadonlySet<string>;
  /** Last successful record per stage, to explain why a stage reruns. */
  readonly previous: ReadonlyMap<string, StageRecord>;
  readonly environment: Readonly<Record<string, string>>;
  /** Called with every key the run reads or writes (the run lease keeps them from gc). */
  readonly useKey?: (key: KeyHash) => void;
  /** Key leases this run holds, for the caller's heartbeat. */
  readonly heldLeases?: Set<HeldLease>;
  /** How often to look again while another process computes a key (ms). */
  readonly pollMs?: number;
}

type Outcome =
  | { readonly ok: true; readonly manifest: Manifest; readonly dir: string }
  | { readonly ok: false; readonly because: string };

export interface ExecuteResult {
  readonly summaries: StageSummary[];
  readonly records: Record<string, StageRecord>;
}

export async function execute(plan: Plan, options: ExecuteOptions): Promise<ExecuteResult> {
  const slots = new SlotPool(options.jobs);
  const outcomes = new Map<string, Promise<Outcome>>();
  const summaries = new Map<string, StageSummary>();
  const records: Record<string, StageRecord> = {};
  const stages = plan.stages.filter((s) => !options.selection || options.selection.has(s.name));
  const store = options.store;
  const pollMs = options.pollMs ?? 250;
  const runner = options.runner;

  const fail = (stage: PlannedStage, error: unknown, started: number): Outcome => {
    const info = error instanceof StageFailedError ? error.info : errorInfo(error, options.signal.aborted);
    const seconds = (Date.now() - started) / 1000;
    options.emit({ type: 'stage-failed', stage: stage.name, seconds, error: info });
    summaries.set(stage.name, { stage: stage.name, status: 'failed', seconds, detail: info.message });
    records[stage.name] = { status: 'failed', group: stage.group, params: stage.params, seconds, error: info.message };
    return { ok: false, because: info.message };
  };

  const runOne = async (stage: PlannedStage): Promise<Outcome> => {
    const deps = plan.dependencies.get(stage.name) ?? [];
    const depOutcomes = await Promise.all(deps.map((d) => outcomes.get(d) as Promise<Outcome>));
    const base = { group: stage.group, params: stage.params, ...(stage.variant ? { variant: stage.variant } : {}) };
    const skip = (because: string): Outcome => {
      options.emit({ type: 'stage-skipped', stage: stage.name, because });
      summaries.set(stage.name, { stage: stage.name, status: 'skipped', detail: because });
      records[stage.name] = { ...base, status: 'skipped', error: because };
      return { ok: false, because };
    };
    const failedDep = deps.find((_, i) => !depOutcomes[i]?.ok);
    if (failedDep) return skip(`input stage ${failedDep} did not finish`);
    if (options.signal.aborted) return skip('interrupted');

    const manifests = new Map(deps.map((d, i) => [d, depOutcomes[i] as Outcome & { ok: true }]));
    const forced = options.force?.has(stage.name) === true;
    const started = Date.now();
    const cached = (key: KeyHash, keyRecord: KeyRecord, manifest: Manifest, dir: string, origin?: 'remote'): Outcome => {
      options.emit({ type: 'stage-cached', stage: stage.name, key, ...(origin ? { origin } : {}) });
      summaries.set(stage.name, { stage: stage.name, status: 'cached', key, metrics: manifest.metrics });
      records[stage.name] = { ...base, status: 'cached', key, key_record: keyRecord, content_hash: manifest.content_hash, metrics: manifest.metrics };
      return { ok: true, manifest, dir };
    };

    let lease: HeldLease | undefined;
    try {
      const hashes = inputHashes(stage, (ref) => manifests.get(ref)?.manifest.content_hash);
      const resolution = await resolveStage(stage, hashes, store, options.previous.get(stage.name), options.backend, forced, 'fetch');
      const { key, keyRecord } = resolution;
      options.useKey?.(key);
      /** A verified hit is reused unless forced; checked again each time another process may have committed. */
      const reuse = (found: Lookup): Outcome | undefined => (found.status === 'hit' && !forced ? cached(key, keyRecord, found.manifest, found.dir, found.origin) : undefined);
      const first = reuse(resolution.found);
      if (first) return first;

      // Become the one process computing this key, or wait for whoever is.
      let announcedWait = false;
      for (;;) {
        const claim = await store.claimKey(key, `${plan.pipeline.name}:${stage.name}`);
        if (claim.acquired) {
          lease = claim.lease;
          options.heldLeases?.add(lease);
          if (claim.brokeStale) options.emit({ type: 'notice', message: `${stage.name}: took over from pid ${claim.brokeStale.pid} on ${claim.brokeStale.host}, which is gone` });
          break;
        }
        if (!announcedWait) {
          options.emit({ type: 'stage-waiting', stage: stage.name, key, holder: `pid ${claim.holder.pid} on ${claim.holder.host} (${claim.holder.purpose})` });
          announcedWait = true;
        }
        await delay(pollMs, options.signal);
        if (options.signal.aborted) return skip('interrupted');
        const meanwhile = reuse(await store.lookup(key));
        if (meanwhile) return meanwhile;
      }
      // Whoever held the lease before us may have committed just before we took it.
      const found = await store.lookup(key);
      const justCommitted = reuse(found);
      if (justCommitted) return justCommitted;
      const reasons: readonly StaleReason[] = reasonsFor(found, keyRecord, options.previous.get(stage.name), forced);
      if (found.status === 'corrupt') {
        options.emit({ type: 'artifact-repaired', stage: stage.name, key, detail: found.detail });
        await store.remove(key);
      }

      const work: StageWork = {
        pipeline: plan.pipeline.name,
        stage: stage.name,
        kind: stage.kind,
        params: stage.params,
        key,
        keyRecord,
        inputKeys: inputKeys(stage, manifests),
        backend: options.backend,
        environment: options.environment,
        external: resolution.external,
        ...(forced ? { fromScratch: true } : {}),
      };
      const priority = plan.priority.get(stage.name) ?? 0;
      options.emit({ type: 'stage-queued', stage: stage.name, key, priority });
      const need = (runner.usesLocalCores ? stage.definition.threads?.(stage.params) : undefined) ?? { max: 1 };
      // Changes of a resizable grant go to the stage's thread once it runs (watchThreads).
      const watchers: Array<(threads: number) => void> = [];
      const grant = await slots.acquire({
        want: need.max,
        priority,
        ...(need.resizable
          ? {
              resize: (threads: number) => {
                options.emit({ type: 'stage-threads', stage: stage.name, threads });
                for (const w of watchers) w(threads);
              },
            }
          : {}),
      });
      try {
        // Re-check after waiting for a slot: Ctrl-C may have come meanwhile.
        if (options.signal.aborted) return skip('interrupted');
        const startedAt = Date.now();
        options.emit({ type: 'stage-start', stage: stage.name, key, reasons, ...(grant.threads > 1 ? { threads: grant.threads } : {}) });
        let worker: string | undefined;
        try {
          const done = await runner.run(
            { ...work, threads: grant.threads },
            {
              progress: (d, total, label) => options.emit({ type: 'stage-progress', stage: stage.name, done: d, total, ...(label !== undefined ? { label } : {}), ...(worker ? { worker } : {}) }),
              log: (message) => options.emit({ type: 'stage-log', stage: stage.name, message, ...(worker ? { worker } : {}) }),
              usesKey: (used) => options.useKey?.(used),
              assigned: (id) => {
                worker = id;
                options.emit({ type: 'stage-assigned', stage: stage.name, key, worker: id });
              },
              // The grant may have changed between the start and the subscription: say where it is now.
              watchThreads: (watch) => {
                watchers.push(watch);
                watch(grant.threads);
              },
            },
            options.signal,
          );
          const { manifest, seconds } = done;
          const ranOn = done.worker ?? worker;
          options.emit({ type: 'stage-done', stage: stage.name, key, seconds, metrics: manifest.metrics, ...(done.backend !== undefined ? { backend: done.backend } : {}), ...(ranOn ? { worker: ranOn } : {}) });
          summaries.set(stage.name, { stage: stage.name, status: 'ran', key, seconds, reasons, metrics: manifest.metrics, ...(ranOn ? { worker: ranOn } : {}) });
          records[stage.name] = { ...base, status: 'ran', key, key_record: keyRecord, content_hash: manifest.content_hash, seconds, reasons, metrics: manifest.metrics };
          return { ok: true, manifest, dir: done.dir };
        } catch (error) {
          return fail(stage, error, startedAt);
        }
      } finally {
        grant.release();
      }
    } catch (error) {
      return fail(stage, error, started);
    } finally {
      if (lease) {
        options.heldLeases?.delete(lease);
        await lease.release().catch(() => undefined);
      }
    }
  };

  for (const stage of stages) outcomes.set(stage.name, runOne(stage));
  await Promise.all(outcomes.values());
  return { summaries: stages.map((s) => summaries.get(s.name)).filter((s): s is StageSummary => s !== undefined), records };
}

/** Resolves after `ms`, or at once when the run is aborted. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

// Every input finished before its dependent starts (the executor awaits them).
function inputKeys(stage: PlannedStage, manifests: ReadonlyMap<string, { manifest: Manifest }>): Record<string, InputKeyRef | InputKeyRef[]> {
  return perInput(stage, 'manifest', (ref): InputKeyRef | undefined => {
    const manifest = manifests.get(ref)?.manifest;
    return manifest && { stage: ref, key: manifest.key };
  });
}
