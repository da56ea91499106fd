/** `pipe run <file>`: execute the plan (or the selected stages and their ancestors). */
import { availableParallelism, hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock } from '../../../artifacts/lock.js';
import { packageRoot } from '../../../stages/schema.js';
import type { RunEvent } from '../../execute/events.js';
import { execute } from '../../execute/executor.js';
import { withPipeline, workerLauncher } from '../../execute/launcher.js';
import { newRunId, writeRunRecord } from '../../execute/run-records.js';
import { publishOutputs } from '../../execute/publish.js';
import { selectTargets } from '../../plan/plan.js';
import { backendChoice, openStore, planFile, previousRuns, storeRoot, type CommonFlags } from '../context.js';
import { didYouMean } from '../../diagnostics.js';
import { jsonLogger, textLogger, type Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';

export interface RunFlags extends CommonFlags {
  readonly stage?: readonly string[];
  readonly force?: readonly string[];
  readonly jobs?: string;
  readonly json?: boolean;
  readonly debug?: boolean;
}

export const EXIT = { ok: 0, failed: 1, invalid: 2, stale: 3, interrupted: 130 } as const;

function environment(): Record<string, string> {
  const env: Record<string, string> = { node: process.version, platform: `${process.platform}-${process.arch}`, host: hostname() };
  try {
    const lock = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string; dependencies?: Record<string, string> };
    env['pipe'] = lock.version;
    for (const [name, range] of Object.entries(lock.dependencies ?? {})) env[name] = range;
  } catch {
    // Versions are informational only.
  }
  return env;
}

export function parseJobs(value: string | undefined): number {
  if (value === undefined) return Number(process.env['PIPE_JOBS'] ?? availableParallelism());
  const jobs = Number(value);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer (got "${value}")`);
  return jobs;
}

export async function runCommand(file: string, flags: RunFlags, write: Output): Promise<number> {
  const planned = await planFile(file, flags);
  const jobs = parseJobs(flags.jobs);
  const backend = backendChoice(flags, planned);
  let selection: Set<string> | undefined;
  if (flags.stage?.length) {
    const { names, unknown } = selectTargets(planned, flags.stage);
    if (unknown.length) throw new UsageError(`--stage ${unknown.join(', ')}: no such stage in ${file}.${didYouMean(unknown[0] ?? '', planned.stages.map((s) => s.group))}`);
    selection = names;
  }
  const force = new Set(flags.force?.includes('all') ? planned.stages.map((s) => s.name) : (flags.force ?? []));

  const root = storeRoot(flags, planned.pipeline.store);
  const store = await openStore(root);
  const lock = await acquireLock(root, `pipe run ${file}`);
  const logger = flags.json ? jsonLogger(write) : textLogger(write, { tty: process.stdout.isTTY === true, debug: flags.debug === true });
  const emit = (event: RunEvent): void => logger.handle(event);
  if (lock.brokeStale) emit({ type: 'notice', message: `removed a stale lock left by pid ${lock.brokeStale.pid} (started ${lock.brokeStale.started_at})` });
  const swept = await store.sweepTemp();
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

  const started = new Date();
  const stageNames = planned.stages.filter((s) => !selection || selection.has(s.name)).map((s) => s.name);
  emit({ type: 'run-start', pipeline: planned.pipeline.name, stages: stageNames, jobs, store: root });
  try {
    const result = await execute(planned, {
      store,
      jobs,
      backend,
      launcher: withPipeline(workerLauncher, planned),
      emit,
      signal: controller.signal,
      ...(selection ? { selection } : {}),
      force,
      previous: await previousRuns(root, planned.pipeline.name),
      environment: environment(),
    });
    const interrupted = controller.signal.aborted;
    await writeRunRecord(root, {
      id: newRunId(started),
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
    await store.close();
    await lock.release();
  }
}
