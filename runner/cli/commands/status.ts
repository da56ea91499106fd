/** `pipe status <file>`: fresh/stale per stage with reasons; exit 3 when anything would run (for CI gates). */
import { formatReason } from '../../../artifacts/key.js';
import { computeStatus, resumeNote } from '../../execute/status.js';
import { selectTargets } from '../../plan/plan.js';
import { backendChoice, openReader, planFile, previousRuns, storeRoot, type CommonFlags } from '../context.js';
import { table } from '../format.js';
import type { Output } from '../run-logger.js';
import { EXIT } from '../exit-codes.js';

export async function statusCommand(file: string, flags: CommonFlags & { json?: boolean; stage?: readonly string[] }, write: Output): Promise<number> {
  const planned = await planFile(file, flags);
  const root = storeRoot(flags, planned.pipeline.store);
  const store = await openReader(root);
  try {
    const selection = flags.stage?.length ? selectTargets(planned, flags.stage).names : undefined;
    const states = await computeStatus(planned, store, await previousRuns(root, planned.pipeline.name), backendChoice(flags, planned), selection);
    const stale = states.filter((s) => s.state === 'stale').length;
    // Only resumable stale stages (train on tfjs models) look further: one folder listing each.
    const notes = await Promise.all(states.map((s) => resumeNote(planned, store, s)));
    if (flags.json) {
      write(`${JSON.stringify({ pipeline: planned.pipeline.name, stale, stages: states.map((s, i) => (s.state === 'fresh' ? { stage: s.stage, state: s.state, key: s.key } : { stage: s.stage, state: s.state, key: s.key ?? null, reasons: s.reasons.map(formatReason), reason_codes: s.reasons, ...(notes[i] ? { resume: notes[i] } : {}) })) }, null, 2)}\n`);
    } else {
      const rows = states.map((s, i) => [s.stage, s.state, s.key?.slice(0, 12) ?? '?', s.state === 'stale' ? [...s.reasons.map(formatReason), ...(notes[i] ? [notes[i]] : [])].join('; ') : '']);
      write(`${table(['stage', 'state', 'artifact', 'why'], rows)}\n\n${stale ? `${stale} of ${states.length} stages would run` : `all ${states.length} stages are fresh`}\n`);
    }
    return stale ? EXIT.stale : EXIT.ok;
  } finally {
    await store.close();
  }
}
