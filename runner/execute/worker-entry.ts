/** Worker-thread entry: runs one stage job and reports progress, logs and the result by message. */
import { parentPort, workerData } from 'node:worker_threads';
import { STAGES } from '../../stages/index.js';
import type { StageContext } from '../../stages/types.js';
import { toInputArtifact } from './input-artifact.js';
import { errorInfo } from './error-info.js';
import type { StageJob, WorkerMessage } from './launcher.js';

const job = workerData as StageJob;
const port = parentPort;
const controller = new AbortController();
const send = (message: WorkerMessage): void => port?.postMessage(message);
port?.on('message', (message: { type: string }) => {
  if (message.type === 'abort') controller.abort();
});

async function main(): Promise<void> {
  const definition = STAGES[job.kind];
  if (!definition) throw new Error(`unknown stage kind ${job.kind}`);
  // Throttle progress messages: a fast loop must not flood the main thread.
  let lastProgress = 0;
  const ctx: StageContext = {
    stage: job.stage,
    params: job.params,
    inputs: Object.fromEntries(Object.entries(job.inputs).map(([k, v]) => [k, toInputArtifact(v)])),
    inputLists: Object.fromEntries(Object.entries(job.inputLists).map(([k, v]) => [k, v.map(toInputArtifact)])),
    outDir: job.outDir,
    signal: controller.signal,
    progress: (p) => {
      const now = Date.now();
      if (now - lastProgress < 100 && p.done < p.total) return;
      lastProgress = now;
      send({ type: 'progress', done: p.done, total: p.total, ...(p.label !== undefined ? { label: p.label } : {}) });
    },
    log: (message) => send({ type: 'log', message }),
    ...(job.backend !== undefined ? { backend: job.backend } : {}),
  };
  const result = await definition.run(ctx);
  send({ type: 'done', result });
}

main().catch((error: unknown) => send({ type: 'error', error: errorInfo(error, controller.signal.aborted) }));
