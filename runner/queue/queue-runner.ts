/**
 * Queue execution for `pipe run --queue redis://…`: the run still plans, keys and looks up every
 * stage itself (executor.ts); a stale stage becomes a BullMQ job that some `pipe worker` takes,
 * runs and commits. The run streams the job's progress and logs, then finds the committed
 * artifact in its own store (a shared directory, or the shared --remote).
 */
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ArtifactStore } from '../../artifacts/store.js';
import { StageFailedError } from '../execute/launcher.js';
import { StoreMismatchError, type RunHooks, type StageRunner, type StageWork } from '../execute/stage-runner.js';
import { bullConnection, QUEUE_NAME } from './connection.js';
import { decodeFailure, isJobUpdate, type StageJobData, type StageJobResult } from './protocol.js';
import { errorMessage } from '../../stages/errors.js';

export interface QueueRunner extends StageRunner {
  close(): Promise<void>;
}

export async function queueRunner(url: string, store: ArtifactStore): Promise<QueueRunner> {
  const connection: Redis = bullConnection(url);
  const queue = new Queue<StageJobData, StageJobResult>(QUEUE_NAME, { connection });
  // BullMQ never closes connections it was given: close() below disconnects both.
  const eventsConnection: Redis = bullConnection(url);
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConnection });
  await events.waitUntilReady();
  const listeners = new Map<string, RunHooks>();
  events.on('progress', ({ jobId, data }) => {
    const hooks = listeners.get(jobId);
    if (!hooks || !isJobUpdate(data)) return;
    if (data.kind === 'assigned') hooks.assigned?.(data.worker);
    else if (data.kind === 'progress') hooks.progress(data.done, data.total, data.label);
    else hooks.log(data.message);
  });

  return {
    usesLocalCores: false,
    async run(work: StageWork, hooks, signal) {
      const jobId = work.key;
      // A finished job of this key from an earlier run says nothing now (its artifact may have
      // been collected, or it failed for a reason since fixed): start afresh. A waiting or active
      // one is shared: that is how two runs needing the same stage get one job.
      const existing = await queue.getJob(jobId);
      if (existing && ((await existing.isCompleted()) || (await existing.isFailed()))) await existing.remove();
      listeners.set(jobId, hooks);
      try {
        const job = await queue.add(work.stage, work, {
          jobId,
          // One retry for a crashed worker process; a stage that fails on its inputs fails for good
          // (the worker marks those unrecoverable).
          attempts: 2,
          removeOnComplete: { age: 3600 },
          removeOnFail: { age: 3600 },
        });
        const onAbort = (): void => {
          // A job nobody took yet is withdrawn; one already running finishes on its worker, and its
          // artifact is there for the next run.
          void job.remove().catch(() => undefined);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        let result: StageJobResult;
        try {
          result = await job.waitUntilFinished(events);
        } catch (error) {
          throw new StageFailedError(decodeFailure(errorMessage(error)));
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
        const found = await store.lookup(work.key);
        if (found.status !== 'hit') {
          throw new StoreMismatchError(`worker ${result.worker} committed ${work.stage} (artifact ${work.key.slice(0, 12)}), but this run's store at ${store.root} cannot see it`);
        }
        return { manifest: found.manifest, dir: found.dir, seconds: result.seconds, worker: result.worker, metrics: found.manifest.metrics, ...(result.backend !== undefined ? { backend: result.backend } : {}) };
      } finally {
        listeners.delete(jobId);
      }
    },
    async close() {
      await events.close();
      await queue.close();
      connection.disconnect();
      eventsConnection.disconnect();
    },
  };
}
