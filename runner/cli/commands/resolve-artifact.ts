/**
 * Resolves what `pipe show` and `pipe predict` are pointed at: an artifact hash prefix, a
 * `pipelines/x.yaml:stage` reference (or a stage with --pipeline FILE), or a bare stage name.
 * A bare name that several pipelines produced is an error listing them: silently taking the newest
 * once served a 480-image smoke-test model to `predict`.
 *
 * With a pipeline file, the answer is first what that file defines now: the stage's artifact if
 * `pipe status FILE` would call it fresh. Run records match pipelines by name only, and a copy of a
 * file made for an experiment keeps its `name:`, so the newest record may be the copy's.
 */
import type { KeyHash } from '../../../artifacts/hash.js';
import { existsSync } from 'node:fs';
import type { ArtifactReader, Manifest } from '../../../artifacts/store.js';
import { readRunRecords, type RunRecord } from '../../execute/run-records.js';
import { computeStatus } from '../../execute/status.js';
import { selectTargets } from '../../plan/plan.js';
import { backendChoice, planFile, previousRuns, type CommonFlags } from '../context.js';
import { age } from '../format.js';
import { UsageError } from '../usage-error.js';

/** Splits `pipelines/x.yaml:stage` into file and stage; undefined for anything else. */
export function splitReference(target: string): { file: string; stage: string } | undefined {
  const match = /^(.+\.ya?ml):([^:]+)$/.exec(target);
  return match ? { file: match[1]!, stage: match[2]! } : undefined;
}

interface Candidate {
  readonly manifest: Manifest;
  readonly file?: string;
}

/** The artifact a pipeline's newest run used for `stage`, else that stage's newest artifact. */
function pick(candidates: readonly Candidate[], records: readonly RunRecord[], pipeline: string, stage: string): Candidate | undefined {
  for (const record of records) {
    if (record.pipeline !== pipeline) continue;
    const key = record.stages[stage]?.key;
    const hit = key ? candidates.find((c) => c.manifest.key === key) : undefined;
    if (hit) return hit;
  }
  return [...candidates].sort((a, b) => b.manifest.finished_at.localeCompare(a.manifest.finished_at))[0];
}

/**
 * What `file` defines now: its pipeline's name, as the runner records it (the loader's rule), and
 * `stage`'s key when that artifact is in the store (fresh).
 */
async function definedBy(file: string, stage: string, root: string, store: ArtifactReader, flags: CommonFlags): Promise<{ name: string; fresh?: KeyHash }> {
  if (!existsSync(file)) throw new UsageError(`pipeline file ${file} not found`);
  const planned = await planFile(file, flags);
  const name = planned.pipeline.name;
  if (!planned.byName.has(stage)) return { name };
  const selection = selectTargets(planned, [stage]).names;
  const states = await computeStatus(planned, store, await previousRuns(root, name), backendChoice(flags, planned), selection);
  const state = states.find((s) => s.stage === stage);
  return state?.state === 'fresh' ? { name, fresh: state.key } : { name };
}

/** `flags` are the command's: `pipeline` (--pipeline FILE) and what planning that file needs (--set, --backend). */
export async function resolveArtifact(target: string, root: string, store: ArtifactReader, flags: CommonFlags & { readonly pipeline?: string } = {}): Promise<KeyHash> {
  const keys = await store.keys();
  const reference = splitReference(target);
  if (!reference && flags.pipeline === undefined && /^[0-9a-f]{4,64}$/.test(target)) {
    const byPrefix = keys.filter((k) => k.startsWith(target));
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw new UsageError(`"${target}" matches ${byPrefix.length} artifacts; give more characters`);
  }
  const stage = reference?.stage ?? target;
  const pipelineFile = reference?.file ?? flags.pipeline;
  let wanted: string | undefined;
  if (pipelineFile !== undefined) {
    const defined = await definedBy(pipelineFile, stage, root, store, flags);
    if (defined.fresh !== undefined) return defined.fresh;
    wanted = defined.name;
  }

  const records = await readRunRecords(root);
  const fileOf = new Map<string, string>();
  for (const record of records) if (!fileOf.has(record.pipeline)) fileOf.set(record.pipeline, record.file);
  const byPipeline = new Map<string, Candidate[]>();
  for (const key of keys) {
    const manifest = await store.readManifest(key);
    if (!manifest || manifest.stage !== stage) continue;
    if (wanted !== undefined && manifest.pipeline !== wanted) continue;
    const list = byPipeline.get(manifest.pipeline) ?? [];
    list.push({ manifest, ...(fileOf.has(manifest.pipeline) ? { file: fileOf.get(manifest.pipeline)! } : {}) });
    byPipeline.set(manifest.pipeline, list);
  }
  if (byPipeline.size === 0) {
    const where = wanted === undefined ? '' : ` of pipeline "${wanted}" (${pipelineFile})`;
    throw new UsageError(`no artifact matches "${target}"${where}; give a stage name, pipelines/FILE.yaml:STAGE, or an artifact hash prefix (see pipe ls)`);
  }
  const chosen = [...byPipeline].map(([pipeline, list]) => pick(list, records, pipeline, stage)!);
  if (chosen.length > 1) {
    const lines = chosen
      .sort((a, b) => a.manifest.pipeline.localeCompare(b.manifest.pipeline))
      .map((c) => `  ${c.file ?? `<${c.manifest.pipeline}>.yaml`}:${stage}    (pipeline ${c.manifest.pipeline}, artifact ${c.manifest.key.slice(0, 12)}, ${age(c.manifest.finished_at)})`);
    throw new UsageError(`stage "${stage}" has artifacts from ${chosen.length} pipelines; say which one (FILE.yaml:STAGE, --pipeline FILE, or an artifact hash):\n${lines.join('\n')}`);
  }
  return chosen[0]!.manifest.key;
}
