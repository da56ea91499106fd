/**
 * A small job pool over `worker_threads` for the classical models (forest trees, SVM class pairs).
 *
 * Worker scripts are compiled TypeScript: `new URL('./worker.js', import.meta.url)` exists next to the
 * compiled caller in dist/, but not next to the .ts sources that vitest runs. `workerScript()` returns
 * the URL only when the file is there; callers then fall back to running the same jobs in-thread
 * (identical results, since every job is seeded by its own index, not by the worker that runs it).
 *
 * Protocol: the worker gets `workerData` once (big arrays as SharedArrayBuffers, not copied), then
 * messages {index, job}; it answers {index, result} or {index, error}. Results come back in job order.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, parentPort, workerData, type Transferable } from 'node:worker_threads';

/** The compiled worker file, or undefined when running from .ts sources. */
export function workerScript(url: URL): URL | undefined {
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

/** Threads to use: the stage's granted threads (its slots of `--jobs`), never more than jobs. */
export function threadCount(granted: number | undefined, jobs: number): number {
  return Math.max(1, Math.min(granted ?? 1, jobs));
}

export interface PoolOptions<J, R> {
  readonly script: URL;
  readonly workerData: unknown;
  readonly jobs: readonly J[];
  readonly threads: number;
  readonly signal?: AbortSignal;
  /** Called as each job finishes (any order): progress reporting. */
  onResult?(index: number, result: R): void;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

export function runPool<J, R>(opts: PoolOptions<J, R>): Promise<R[]> {
  const { jobs } = opts;
  const results: R[] = new Array<R>(jobs.length);
  if (jobs.length === 0) return Promise.resolve(results);
  return new Promise<R[]>((resolve, reject) => {
    const workers: Worker[] = [];
    let next = 0;
    let done = 0;
    let finished = false;
    const finish = (error?: Error): void => {
      if (finished) return;
      finished = true;
      opts.signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      if (error) reject(error);
      else resolve(results);
    };
    const onAbort = (): void => finish(abortReason(opts.signal!));
    if (opts.signal?.aborted) return finish(abortReason(opts.signal));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const feed = (w: Worker): void => {
      if (next < jobs.length) {
        const index = next++;
        w.postMessage({ index, job: jobs[index] });
      }
    };
    for (let t = 0; t < Math.min(opts.threads, jobs.length); t++) {
      const w = new Worker(opts.script, { workerData: opts.workerData });
      workers.push(w);
      w.on('message', (msg: { index: number; result?: R; error?: string }) => {
        if (finished) return;
        if (msg.error !== undefined) return finish(new Error(msg.error));
        results[msg.index] = msg.result as R;
        done++;
        opts.onResult?.(msg.index, msg.result as R);
        if (done === jobs.length) return finish();
        feed(w);
      });
      w.on('error', (e) => finish(e instanceof Error ? e : new Error(String(e))));
      w.on('exit', (code) => {
        if (!finished && code !== 0) finish(new Error(`worker exited with code ${code}`));
      });
      feed(w);
    }
  });
}

type JobAnswer<R> = { result: R; transfer?: Transferable[] };

/** Worker side: answers every job message with `handler(job, workerData)` (one job at a time). */
export function serveJobs<J, R>(handler: (job: J, data: unknown) => JobAnswer<R> | Promise<JobAnswer<R>>): void {
  if (!parentPort) throw new Error('serveJobs must run in a worker thread');
  const port = parentPort;
  const answer = async (msg: { index: number; job: J }): Promise<void> => {
    try {
      const { result, transfer } = await handler(msg.job, workerData);
      port.postMessage({ index: msg.index, result }, transfer ?? []);
    } catch (error) {
      port.postMessage({ index: msg.index, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  };
  // answer() never rejects (it reports every failure as a message), so nothing is left floating.
  port.on('message', (msg: { index: number; job: J }) => void answer(msg));
}

/** Copies a typed array into shared memory so workers can read it without a copy each. */
export function shared<T extends Uint8Array | Float32Array | Float64Array | Int32Array>(a: T): T {
  const ctor = a.constructor as new (buf: SharedArrayBuffer) => T;
  const out = new ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}
