/** Worker-thread entry: runs one stage job and reports progress, logs and the result by message. */
import { parentPort, workerData } from 'node:worker_threads';
import { STAGES } from '../../stages/index.js';
import type { StageContext } from '../../stages/types.js';
import { loadDefinitions } from '../plugins/import.js';
import { MODELS } from '../../stages/models/index.js';
import { installModels, trainWith } from '../plugins/registry.js';
import { toInputArtifact } from './input-artifact.js';
import { errorInfo } from './error-info.js';
import { externalFilesFor } from './external-files.js';
import type { StageJob, WorkerMessage } from './launcher.js';
import { deriveWork, JobRefusedError } from './work-check.js';
import { checkResumeFits } from './resume.js';

const job = workerData as StageJob;
const port = parentPort;
const controller = new AbortController();
const send = (message: WorkerMessage): void => port?.postMessage(message);
/** Threads the scheduler grants the stage now: it may lend more or take some back as the stage runs. */
let threads = job.threads ?? 1;
port?.on('message', (message: { type: 'abort' } | { type: 'threads'; threads: number }) => {
  if (message.type === 'abort') controller.abort();
  else threads = message.threads;
});

async function main(): Promise<void> {
  let definition = STAGES[job.kind];
  if (job.plugins?.length) {
    // This thread's own registry view: plugin kinds, and plugin models for train/evaluate/explain.
    const loaded = await loadDefinitions(job.plugins);
    installModels(loaded.models);
    // train's `model` choices widened with the plugin models, as the planner saw them.
    definition = loaded.stages.find((s) => s.kind === job.kind) ?? (job.kind === 'train' ? trainWith(MODELS) : definition);
  }
  if (!definition) throw new JobRefusedError('kind', `this process has no stage kind ${job.kind}`);
  // What runs comes from the key record, never from the rest of the job (work-check.ts).
  const work = deriveWork(definition, job);
  const external = await externalFilesFor(definition, work.params, job.external, job.keyRecord.files);
  if (job.resume) checkResumeFits(definition, job.keyRecord, job.resume.artifact.params, job.resume.progress);
  // Throttle progress messages: a fast loop must not flood the main thread.
  let lastProgress = 0;
  const ctx: StageContext = {
    stage: job.stage,
    params: work.params,
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
    ...(work.backend !== undefined ? { backend: work.backend } : {}),
    ...(job.workDir !== undefined ? { workDir: job.workDir } : {}),
    get threads() {
      return threads;
    },
    external,
    ...(job.resume ? { resume: { artifact: toInputArtifact(job.resume.artifact), progress: job.resume.progress } } : {}),
  };
  const result = await definition.run(ctx);
  send({ type: 'done', result });
}

main().catch((error: unknown) => send({ type: 'error', error: errorInfo(error, controller.signal.aborted) }));
