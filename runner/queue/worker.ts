/**
 * `pipe worker`: takes stage jobs from the BullMQ queue, runs each in a worker thread (so the main
 * thread keeps renewing BullMQ's job lock during CPU-heavy training), and commits the artifact
 * write-once to its store (and the remote, when given). A worker killed mid-stage stops renewing
 * its lock; BullMQ then sees the job as stalled and another worker runs it again from scratch.
 */
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { ArtifactStore } from '../../artifacts/store.js';
import { errorInfo } from '../execute/error-info.js';
import { StageFailedError, workerLauncher } from '../execute/launcher.js';
import { localRunner } from '../execute/stage-runner.js';
import { bullConnection, QUEUE_NAME } from './connection.js';
import { encodeFailure, jobProblem, type JobUpdate, type StageJobData, type StageJobResult } from './protocol.js';

export interface WorkerEvents {
  started(job: StageJobData): void;
  finished(job: StageJobData, result: StageJobResult): void;
  failed(job: StageJobData, message: string): void;
}

export interface RunningWorker {
  readonly id: string;
  close(): Promise<void>;
}

/** Reasons that mean "the stage cannot succeed as given": retrying on another worker is pointless. */
const PERMANENT = new Set(['stage-input', 'pipeline-invalid', 'usage', 'exec-failed']);

export async function startWorker(options: {
  readonly url: string;
  readonly store: ArtifactStore;
  readonly slots: number;
  readonly events: WorkerEvents;
  /** BullMQ lock duration (ms): how soon a killed worker's job is handed to another. */
  readonly lockMs: number;
}): Promise<RunningWorker> {
  const id = `${hostname()}:${process.pid}`;
  const runner = localRunner(options.store, workerLauncher);
  const controller = new AbortController();

  const processJob = async (job: Job<StageJobData, StageJobResult>): Promise<StageJobResult> => {
    const work = job.data;
    const problem = jobProblem(work);
    // Not retried: the same data fails the same way on every worker.
    if (problem !== undefined) throw new UnrecoverableError(encodeFailure({ reason: 'internal', message: problem }));
    const send = (update: JobUpdate): void => void job.updateProgress(update).catch(() => undefined);
    send({ kind: 'assigned', worker: id });
    options.events.started(work);
    const already = await options.store.lookup(work.key);
    if (already.status === 'hit') {
      const result = { worker: id, content_hash: already.manifest.content_hash, seconds: 0, metrics: already.manifest.metrics, found: true };
      options.events.finished(work, result);
      return result;
    }
    try {
      const done = await runner.run(
        // One thread per job: a worker's --slots is its BullMQ concurrency, so wider jobs would
        // oversubscribe its cores. Thread counts never change results, so nothing else differs.
        { ...work, threads: 1, environment: { ...work.environment, host: hostname(), worker: id } },
        {
          progress: (d, total, label) => send({ kind: 'progress', done: d, total, ...(label !== undefined ? { label } : {}) }),
          log: (message) => send({ kind: 'log', message }),
        },
        controller.signal,
      );
      const result: StageJobResult = { worker: id, content_hash: done.manifest.content_hash, seconds: done.seconds, metrics: done.metrics, found: false, ...(done.backend !== undefined ? { backend: done.backend } : {}) };
      options.events.finished(work, result);
      return result;
    } catch (error) {
      const info = error instanceof StageFailedError ? error.info : errorInfo(error);
      options.events.failed(work, info.message);
      const encoded = encodeFailure(info);
      throw PERMANENT.has(info.reason) ? new UnrecoverableError(encoded) : new Error(encoded);
    }
  };

  const connection = bullConnection(options.url);
  const worker = new Worker<StageJobData, StageJobResult>(QUEUE_NAME, processJob, {
    connection,
    concurrency: options.slots,
    name: id,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    maxStalledCount: 1,
  });
  worker.on('error', () => undefined); // connection blips: ioredis reconnects by itself
  await worker.waitUntilReady();
  return {
    id,
    async close() {
      controller.abort();
      await worker.close();
      connection.disconnect();
    },
  };
}
