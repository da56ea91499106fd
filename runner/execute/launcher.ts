/**
 * Runs one stage off the main thread in a worker thread, so CPU-heavy stages really use separate
 * cores and the main thread stays free for progress and Ctrl-C. The worker receives only plain
 * data (a StageJob), never closures: a job could as well run in another process or machine.
 */
import { Worker } from 'node:worker_threads';
import type { KeyHash } from '../../artifacts/hash.js';
import type { KeyRecord } from '../../artifacts/key.js';
import type { JsonValue, LocatedFiles, Params, StageResult } from '../../stages/types.js';
import type { StageErrorInfo } from './events.js';

export interface InputArtifactData {
  readonly stage: string;
  readonly kind: string;
  readonly dir: string;
  readonly files: Readonly<Record<string, { sha256: string; bytes: number }>>;
  readonly metrics: Readonly<Record<string, JsonValue>>;
  readonly params: Params;
}

export interface StageJob {
  readonly stage: string;
  /** The key the output is committed under, and its record: the thread derives what it runs from the record (work-check.ts). */
  readonly key: KeyHash;
  readonly keyRecord: KeyRecord;
  readonly kind: string;
  /** What the planner resolved; the thread refuses the job unless the record derives the same. */
  readonly params: Params;
  readonly inputs: Readonly<Record<string, InputArtifactData>>;
  readonly inputLists: Readonly<Record<string, readonly InputArtifactData[]>>;
  readonly outDir: string;
  readonly backend?: string;
  /** Absolute paths of the pipeline's plugin modules: the worker loads them to find plugin kinds and models. */
  readonly plugins?: readonly string[];
  /** The pipeline file's folder (StageContext.workDir). */
  readonly workDir?: string;
  /** Threads the stage may run (StageContext.threads); 1 when absent. */
  readonly threads?: number;
  /** External files as located when the key was made (their hashes are in keyRecord.files). */
  readonly external: LocatedFiles;
  /** A verified checkpoint of this stage's own training to continue from (runner/execute/resume.ts). */
  readonly resume?: { readonly artifact: InputArtifactData; readonly progress: number };
}

export type WorkerMessage =
  | { readonly type: 'progress'; readonly done: number; readonly total: number; readonly label?: string }
  | { readonly type: 'log'; readonly message: string }
  | { readonly type: 'done'; readonly result: StageResult }
  | { readonly type: 'error'; readonly error: StageErrorInfo };

export interface LaunchHooks {
  progress(done: number, total: number, label?: string): void;
  log(message: string): void;
  /** Subscribes to changes of the stage's thread grant (resizable stages: runner/execute/slots.ts). */
  watchThreads?(watch: (threads: number) => void): void;
}

export class StageFailedError extends Error {
  readonly reason = 'stage-failed';
  constructor(readonly info: StageErrorInfo) {
    super(info.message);
  }
}

export type Launcher = (job: StageJob, hooks: LaunchHooks, signal: AbortSignal) => Promise<StageResult>;

/** Grace period between asking a stage to stop and terminating its thread. */
const ABORT_GRACE_MS = 3000;

export const workerLauncher: Launcher = (job, hooks, signal) =>
  new Promise<StageResult>((resolve, reject) => {
    // Ctrl-C may come between the stage's start and here (while its inputs are looked up): an
    // already-aborted signal never fires its 'abort' event, so check it before starting a thread.
    if (signal.aborted) {
      reject(new StageFailedError({ reason: 'interrupted', message: 'interrupted' }));
      return;
    }
    const worker = new Worker(new URL('./worker-entry.js', import.meta.url), { workerData: job });
    let settled = false;
    const finish = (action: () => void): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      action();
      void worker.terminate();
    };
    const onAbort = (): void => {
      worker.postMessage({ type: 'abort' });
      setTimeout(() => finish(() => reject(new StageFailedError({ reason: 'interrupted', message: 'interrupted' }))), ABORT_GRACE_MS).unref();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    hooks.watchThreads?.((threads) => {
      if (!settled) worker.postMessage({ type: 'threads', threads });
    });
    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'progress':
          hooks.progress(message.done, message.total, message.label);
          break;
        case 'log':
          hooks.log(message.message);
          break;
        case 'done':
          finish(() => resolve(message.result));
          break;
        case 'error':
          finish(() => reject(new StageFailedError(message.error)));
          break;
      }
    });
    worker.on('error', (error) => finish(() => reject(new StageFailedError({ reason: 'internal', message: error.message, ...(error.stack ? { stack: error.stack } : {}) }))));
    worker.on('exit', (code) => finish(() => reject(new StageFailedError({ reason: 'internal', message: `stage thread exited with code ${code} before finishing` }))));
  });
