/** Copies published outputs (e.g. the HTML report) to stable paths outside the store, atomically. */
import { copyFile, mkdir, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Plan } from '../config/types.js';
import type { StageSummary } from './events.js';

export async function publishOutputs(plan: Plan, summaries: readonly StageSummary[], artifactDir: (key: string) => string): Promise<string[]> {
  const published: string[] = [];
  const publishing = plan.stages.filter((s) => s.definition.publish);
  for (const summary of summaries) {
    const stage = plan.byName.get(summary.stage);
    const spec = stage?.definition.publish;
    if (!stage || !spec || !summary.key || (summary.status !== 'ran' && summary.status !== 'cached')) continue;
    const sameKind = publishing.filter((s) => s.definition.publish?.dir === spec.dir).length;
    const base = sameKind > 1 ? `${plan.pipeline.name}-${stage.name.replace(/[^\w.-]+/g, '_')}` : plan.pipeline.name;
    const target = resolve(join(spec.dir, `${base}${spec.ext}`));
    await mkdir(resolve(spec.dir), { recursive: true });
    await copyFile(join(artifactDir(summary.key), spec.file), `${target}.tmp`);
    await rename(`${target}.tmp`, target);
    published.push(target);
  }
  return published;
}
