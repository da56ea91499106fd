/** `pipe report <file>`: rebuild the pipeline's report(s) from cached artifacts, never retraining. */
import { formatReason } from '../../../artifacts/key.js';
import { computeStatus } from '../../execute/status.js';
import { selectTargets } from '../../plan/plan.js';
import { backendChoice, openReader, planFile, previousRuns, storeRoot } from '../context.js';
import type { Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';
import { EXIT } from '../exit-codes.js';
import { runCommand, type RunFlags } from './run.js';

export async function reportCommand(file: string, flags: RunFlags, write: Output): Promise<number> {
  const planned = await planFile(file, flags);
  const reports = planned.stages.filter((s) => s.definition.publish).map((s) => s.name);
  if (!reports.length) throw new UsageError(`${file} has no report stage (kind: report)`);
  const root = storeRoot(flags, planned.pipeline.store);
  const store = await openReader(root);
  let missing: string[];
  try {
    const states = await computeStatus(planned, store, await previousRuns(root, planned.pipeline.name), backendChoice(flags, planned), selectTargets(planned, reports).names);
    // Stale reports are fine (that is what we rebuild); anything else stale would mean training.
    missing = states.filter((s) => s.state === 'stale' && !reports.includes(s.stage) && !s.reasons.some((r) => r.code === 'upstream-stale')).map((s) => `${s.stage} (${s.state === 'stale' ? s.reasons.map(formatReason).join('; ') : ''})`);
  } finally {
    await store.close();
  }
  if (missing.length) {
    process.stderr.write(`pipe report: these stages are not cached, so the report cannot be built without running them:\n  ${missing.join('\n  ')}\nRun "pipe run ${file}" first.\n`);
    return EXIT.failed;
  }
  return runCommand(file, { ...flags, stage: reports }, write);
}
