/**
 * `pipe worker --queue redis://…`: serve stage jobs until stopped (Ctrl-C / SIGTERM finishes by
 * handing running jobs back). `pipe workers --queue …`: the live workers and what each is running.
 */
import { Queue } from 'bullmq';
import { checkRedis, bullConnection, QUEUE_NAME, withoutPassword } from '../../queue/connection.js';
import type { StageJobData, StageJobResult } from '../../queue/protocol.js';
import { startWorker } from '../../queue/worker.js';
import { openRunStore, storeRoot, type CommonFlags } from '../context.js';
import { seconds, table } from '../format.js';
import type { Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';
import { parseCount } from '../numbers.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { repositoryAround } from '../../plugins/registry.js';

export interface WorkerFlags extends CommonFlags {
  readonly queue?: string;
  readonly slots?: string;
  readonly repo?: string;
  readonly allowExec?: boolean;
  readonly allowPlugins?: boolean;
}

function requireQueue(flags: WorkerFlags, verb: string): string {
  const url = flags.queue ?? process.env['PIPE_QUEUE'];
  if (!url) throw new UsageError(`pipe ${verb} needs --queue redis://HOST:PORT (or $PIPE_QUEUE)`);
  return url;
}

export async function workerCommand(flags: WorkerFlags, write: Output): Promise<number> {
  const url = requireQueue(flags, 'worker');
  const slots = flags.slots === undefined ? 1 : parseCount(flags.slots, '--slots', 1);
  const lockEnv = process.env['PIPE_WORKER_LOCK_MS'];
  const lockMs = lockEnv === undefined ? 30_000 : parseCount(lockEnv, '$PIPE_WORKER_LOCK_MS', 1);
  if (flags.repo !== undefined && !existsSync(flags.repo)) throw new UsageError(`--repo ${flags.repo} does not exist`);
  const repo = flags.repo === undefined ? repositoryAround(process.cwd()) : resolve(flags.repo);
  const policy = { repo, allowExec: flags.allowExec === true, allowPlugins: flags.allowPlugins === true };
  await checkRedis(url);
  const root = storeRoot(flags);
  const store = await openRunStore(root, flags, undefined, (message) => write(`pipe worker: ${message}\n`));
  const started = new Map<string, number>();
  const worker = await startWorker({
    url,
    store,
    slots,
    lockMs,
    policy,
    events: {
      started: (job) => {
        started.set(job.key, Date.now());
        write(`  start   ${job.stage} (${job.pipeline}) ${job.key.slice(0, 12)}\n`);
      },
      finished: (job, result) => write(`  ${result.found ? 'cached' : 'done  '}  ${job.stage} ${seconds((Date.now() - (started.get(job.key) ?? Date.now())) / 1000)}\n`),
      failed: (job, message) => write(`  FAILED  ${job.stage} ${message}\n`),
    },
  });
  const allowed = [policy.allowExec ? 'exec' : '', policy.allowPlugins ? 'plugins' : ''].filter(Boolean).join(' and ') || 'built-in stages only';
  write(`pipe worker ${worker.id}: ${slots} slot(s), queue ${withoutPassword(url)}, store ${root}${flags.remote ? `, remote ${flags.remote}` : ''}, repo ${repo} (${allowed})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  write(`pipe worker ${worker.id}: stopping\n`);
  await worker.close();
  await store.close();
  return 0;
}

export async function workersCommand(flags: WorkerFlags & { json?: boolean }, write: Output): Promise<number> {
  const url = requireQueue(flags, 'workers');
  await checkRedis(url);
  const connection = bullConnection(url);
  const queue = new Queue<StageJobData, StageJobResult>(QUEUE_NAME, { connection });
  try {
    const clients = await queue.getWorkers();
    const active = await queue.getActive();
    const names = [...new Set(clients.map((c) => c['rawname'] ?? c['name'] ?? '?').map((n) => n.replace(/^.*:w:/, '')))].sort();
    const running = new Map<string, string[]>();
    for (const job of active) {
      const by = job.processedBy ?? '?';
      running.set(by, [...(running.get(by) ?? []), `${job.data.stage} (${job.data.pipeline})`]);
    }
    const waiting = await queue.getWaitingCount();
    if (flags.json) {
      write(`${JSON.stringify({ queue: withoutPassword(url), waiting, workers: names.map((name) => ({ worker: name, running: running.get(name) ?? [] })) }, null, 2)}\n`);
    } else {
      write(`${table(['worker', 'running'], names.map((name) => [name, (running.get(name) ?? []).join(', ') || 'idle']))}\n\n${names.length} worker(s), ${active.length} job(s) running, ${waiting} waiting\n`);
    }
    return 0;
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
