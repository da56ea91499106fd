/**
 * Copies published outputs (e.g. the HTML report) to stable paths outside the store, atomically.
 * A report gets the run's timings filled in on the way (the artifact holds placeholders, so its
 * bytes do not depend on how fast the machine was: see stages/report/timings.ts).
 */
import type { KeyHash } from '../../artifacts/hash.js';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../artifacts/atomic-write.js';
import { fillTimings, timingMetrics, type TimingTable } from '../../stages/report/timings.js';
import { join, resolve } from 'node:path';
import type { Plan } from '../config/types.js';
import type { StageSummary } from './events.js';

export async function publishOutputs(plan: Plan, summaries: readonly StageSummary[], artifactDir: (key: KeyHash) => string): Promise<string[]> {
  const published: string[] = [];
  const publishing = plan.stages.filter((s) => s.definition.publish);
  const timings: TimingTable = {};
  for (const s of summaries) if (s.metrics) timings[s.stage] = timingMetrics(s.metrics);
  for (const summary of summaries) {
    const stage = plan.byName.get(summary.stage);
    const spec = stage?.definition.publish;
    if (!stage || !spec || !summary.key || (summary.status !== 'ran' && summary.status !== 'cached')) continue;
    const sameKind = publishing.filter((s) => s.definition.publish?.dir === spec.dir).length;
    const base = sameKind > 1 ? `${plan.pipeline.name}-${stage.name.replace(/[^\w.-]+/g, '_')}` : plan.pipeline.name;
    const target = resolve(join(spec.dir, `${base}${spec.ext}`));
    await mkdir(resolve(spec.dir), { recursive: true });
    const bytes = await readFile(join(artifactDir(summary.key), spec.file));
    await writeFileAtomic(target, spec.ext === '.html' ? fillTimings(bytes.toString('utf8'), timings) : bytes);
    published.push(target);
  }
  return published;
}
