/** `pipe run <file>`: execute the plan (or the selected stages and their ancestors). */
import { availableParallelism, hostname } from 'node:os';
import type { KeyHash } from '../../../artifacts/hash.js';
import { LEASE_TTL_MS, type HeldLease } from '../../../artifacts/lease.js';
import { installedVersions, pipePackage } from '../../../stages/versions.js';
import type { RunEvent } from '../../execute/events.js';
import { execute } from '../../execute/executor.js';
import { workerLauncher } from '../../execute/launcher.js';
import { localRunner, withPipelineWork } from '../../execute/stage-runner.js';
import { newRunId, writeRunRecord } from '../../execute/run-records.js';
import { eventLog, eventLogPath } from '../../execute/event-log.js';
import { publishOutputs } from '../../execute/publish.js';
import { selectTargets } from '../../plan/plan.js';
import { backendChoice, openRunStore, planFile, previousRuns, storeRoot, type CommonFlags } from '../context.js';
import { didYouMean } from '../../diagnostics.js';
import { jsonLogger, textLogger, type Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';
import { parseCount } from '../numbers.js';
import { EXIT } from '../exit-codes.js';

export interface RunFlags extends CommonFlags {
  readonly stage?: readonly string[];
  readonly force?: readonly string[];
  readonly jobs?: string;
  readonly json?: boolean;
  readonly debug?: boolean;
  /** Redis URL: run stale stages on `pipe worker` processes (BullMQ). */
  readonly queue?: string;
}


/** Host facts plus the installed (not the declared) version of every dependency and optional peer. */
function environment(): Record<string, string> {
  const env: Record<string, string> = { node: process.version, platform: `${process.platform}-${process.arch}`, host: hostname() };
  try {
    const pkg = pipePackage();
    env['pipe'] = pkg.version;
    Object.assign(env, installedVersions([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]));
  } catch {
    // Versions are informational only.
  }
  return env;
}

export function parseJobs(value: string | undefined, queued = false): number {
  if (value !== undefined) return parseCount(value, '--jobs', 1);
  const env = process.env['PIPE_JOBS'];
  // With a queue, the workers' slots bound the work; the run only limits jobs in flight.
  return env === undefined ? (queued ? 64 : availableParallelism()) : parseCount(env, '$PIPE_JOBS', 1);
}

export async function runCommand(file: string, flags: RunFlags, write: Output): Promise<number> {
  parseJobs(flags.jobs); // before planning: a usage error costs nothing to find
  const planned = await planFile(file, flags);
  const queue = flags.queue ?? process.env['PIPE_QUEUE'] ?? planned.pipeline.queue;
  // BullMQ and ioredis load only for a queued run: a local run (most runs) never pays for them.
  const queueing = queue === undefined ? undefined : { url: queue, connection: await import('../../queue/connection.js'), runner: await import('../../queue/queue-runner.js') };
  const jobs = parseJobs(flags.jobs, queue !== undefined);
  if (queueing) await queueing.connection.checkRedis(queueing.url);
  const backend = backendChoice(flags, planned);
  let selection: Set<string> | undefined;
  if (flags.stage?.length) {
    const { names, unknown } = selectTargets(planned, flags.stage);
    if (unknown.length) throw new UsageError(`--stage ${unknown.join(', ')}: no such stage in ${file}.${didYouMean(unknown[0] ?? '', planned.stages.map((s) => s.group))}`);
    selection = names;
  }
  const force = new Set(flags.force?.includes('all') ? planned.stages.map((s) => s.name) : (flags.force ?? []));

  const root = storeRoot(flags, planned.pipeline.store);
  const logger = flags.json ? jsonLogger(write) : textLogger(write, { tty: process.stdout.isTTY, debug: flags.debug === true });
  const started = new Date();
  const runId = newRunId(started);
  // Every event also goes to the run's event log in the store, which `pipe ui` follows live.
  const events = eventLog(eventLogPath(root, runId), (message) => logger.handle({ type: 'notice', message }));
  const emit = (event: RunEvent): void => {
    logger.handle(event);
    events.handle(event);
  };
  const store = await openRunStore(root, flags, planned, (message) => emit({ type: 'notice', message }));
  // No store-wide lock: other runs may share this store. The run lease lists the keys this run
  // uses so gc keeps them; key leases (taken by the executor) make a shared stage run once.
  const usedKeys = new Set<KeyHash>();
  const claim = await store.runLeases.claim(runId, `pipe run ${file}`, []);
  const runLease = claim.acquired ? claim.lease : undefined;
  const heldLeases = new Set<HeldLease>();
  const renewKeyLease = async (lease: HeldLease): Promise<void> => {
    if ((await lease.renew()) !== 'lost' || !heldLeases.delete(lease)) return;
    // Broken as stale while this process stalled, and taken: the other holder computes it too;
    // write-once keeps whichever result is committed first.
    emit({ type: 'notice', message: `${lease.info.purpose}: lost the lease ${lease.path} to another process` });
  };
  let runLeaseLost = false;
  const renewRunLease = async (): Promise<void> => {
    if (!runLease || (await runLease.renew([...usedKeys])) !== 'lost' || runLeaseLost) return;
    runLeaseLost = true;
    emit({ type: 'notice', message: `lost the run lease ${runLease.path} to another process: gc may now delete artifacts this run uses` });
  };
  const heartbeat = setInterval(() => {
    void renewRunLease().catch(() => undefined);
    for (const lease of heldLeases) void renewKeyLease(lease).catch(() => undefined);
    // Another host's run lease is judged stale only after being watched unchanged for a TTL,
    // which one-shot commands like gc never do: runs that last that long clear dead ones.
    void store.runLeases.sweepStale().catch(() => undefined);
  }, LEASE_TTL_MS / 3);
  heartbeat.unref();
  const useKey = (key: KeyHash): void => {
    if (usedKeys.has(key)) return;
    usedKeys.add(key);
    void renewRunLease().catch(() => undefined);
  };
  await store.runLeases.sweepStale();
  const swept = await store.sweepTemp();
  const queued = queueing ? await queueing.runner.queueRunner(queueing.url, store) : undefined;
  if (queueing) emit({ type: 'notice', message: `stages run on the workers of ${queueing.connection.withoutPassword(queueing.url)}` });
  if (swept) emit({ type: 'notice', message: `removed ${swept} unfinished artifact(s) left by an interrupted run` });

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    emit({ type: 'notice', message: 'interrupted: stopping running stages (Ctrl-C again to quit at once)' });
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const stageNames = planned.stages.filter((s) => !selection || selection.has(s.name)).map((s) => s.name);
  emit({ type: 'run-start', pipeline: planned.pipeline.name, stages: stageNames, jobs, store: root });
  try {
    const result = await execute(planned, {
      store,
      jobs,
      backend,
      runner: withPipelineWork(queued ?? localRunner(store, workerLauncher), planned),
      emit,
      signal: controller.signal,
      ...(selection ? { selection } : {}),
      force,
      previous: await previousRuns(root, planned.pipeline.name),
      environment: environment(),
      useKey,
      heldLeases,
    });
    const interrupted = controller.signal.aborted;
    await writeRunRecord(root, {
      id: runId,
      pipeline: planned.pipeline.name,
      file,
      argv: process.argv.slice(2),
      started_at: started.toISOString(),
      finished_at: new Date().toISOString(),
      interrupted,
      stages: result.records,
    });
    emit({ type: 'run-end', seconds: (Date.now() - started.getTime()) / 1000, stages: result.summaries, interrupted });
    for (const path of await publishOutputs(planned, result.summaries, (key) => store.artifactDir(key))) {
      emit({ type: 'notice', message: `report: ${path}` });
    }
    if (interrupted) return EXIT.interrupted;
    return result.summaries.some((s) => s.status === 'failed' || s.status === 'skipped') ? EXIT.failed : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    clearInterval(heartbeat);
    await queued?.close();
    await store.close();
    await events.close();
    await runLease?.release();
  }
}
