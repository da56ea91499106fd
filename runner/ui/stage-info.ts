/**
 * The stage panel's data: resolved params with where each came from (as `pipe config render`
 * words it), and the stage's artifact as `pipe show --json` reads it: key, content hash, inputs,
 * metrics, timings and files.
 */
import type { KeyHash } from '../../artifacts/hash.js';
import type { ArtifactReader, Manifest } from '../../artifacts/store.js';
import type { PlannedStage, Provenance } from '../config/types.js';
import { describeProvenance } from '../cli/commands/config-render.js';
import { lastSuccessful } from '../execute/run-records.js';
import type { ArtifactDetail, GraphStage, Json, ParamRow, StagePayload } from './api-types.js';
import type { Loaded } from './board.js';

const SOURCE: Record<Provenance['source'], string> = { 'schema-default': 'default', defaults: 'pipeline defaults', file: 'stage', sweep: 'sweep', cli: '--set' };

export function paramRows(stage: PlannedStage, loaded: Loaded): ParamRow[] {
  const source = loaded.plan.pipeline.source;
  return Object.keys(stage.params)
    .sort()
    .map((name) => {
      const provenance = stage.provenance[name];
      return {
        name,
        value: stage.params[name] as Json,
        source: SOURCE[provenance?.source ?? 'schema-default'],
        where: describeProvenance(provenance, source.file, (p) => source.locate(p)),
        inKey: name in stage.keyParams,
      };
    });
}

export function artifactDetail(manifest: Manifest): ArtifactDetail {
  return {
    key: manifest.key,
    content_hash: manifest.content_hash,
    impl: manifest.key_record.impl,
    inputs: Object.entries(manifest.inputs).map(([name, refs]) => ({ name, refs: (Array.isArray(refs) ? refs : [refs]).map((r: { stage: string; content_hash: string }) => ({ stage: r.stage, content_hash: r.content_hash })) })),
    keyParams: manifest.key_record.params as Readonly<Record<string, Json>>,
    metrics: manifest.metrics as Readonly<Record<string, Json>>,
    started_at: manifest.started_at,
    finished_at: manifest.finished_at,
    duration_s: manifest.duration_s,
    ...(manifest.backend !== undefined ? { backend: manifest.backend } : {}),
    files: Object.entries(manifest.files).map(([name, f]) => ({ name, bytes: f.bytes, sha256: f.sha256 })),
  };
}

/** The panel for one stage, or undefined when the file has no such stage (or does not load). */
export async function stagePayload(file: string, name: string, loaded: Loaded, graphStage: GraphStage, store: ArtifactReader): Promise<StagePayload | undefined> {
  const stage = loaded.plan.byName.get(name);
  if (!stage) return undefined;
  const state = loaded.states.get(name);
  let manifest = state?.state === 'fresh' ? state.manifest : undefined;
  const current = manifest !== undefined;
  if (!manifest) {
    // Stale: show what it produced last time, marked as such, rather than nothing.
    const key = lastSuccessful(loaded.records, loaded.plan.pipeline.name).get(name)?.key;
    if (key) manifest = await store.readManifest(key as KeyHash);
  }
  return { file, stage: graphStage, params: paramRows(stage, loaded), ...(manifest ? { artifact: artifactDetail(manifest) } : {}), current };
}
