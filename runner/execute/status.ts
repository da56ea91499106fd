/**
 * Dry run: what `pipe run` would do, with a reason per stale stage, without running anything.
 * A stage whose input is stale cannot know its key yet and is reported as `upstream-stale`.
 */
import { explainChange, keyHash, type StaleReason } from '../../artifacts/key.js';
import type { LocalStore, Manifest } from '../../artifacts/store.js';
import type { Plan } from '../config/types.js';
import { externalFileHashes, keyRecordFor } from './keys.js';
import type { StageRecord } from './run-records.js';

export type StageState =
  | { readonly stage: string; readonly state: 'fresh'; readonly key: string; readonly manifest: Manifest }
  | { readonly stage: string; readonly state: 'stale'; readonly key?: string; readonly reasons: readonly StaleReason[] };

export async function computeStatus(
  plan: Plan,
  store: LocalStore,
  previous: ReadonlyMap<string, StageRecord>,
  backend: string,
  selection?: ReadonlySet<string>,
): Promise<StageState[]> {
  const states = new Map<string, StageState>();
  for (const stage of plan.stages) {
    if (selection && !selection.has(stage.name)) continue;
    const deps = plan.dependencies.get(stage.name) ?? [];
    const staleDep = deps.find((d) => states.get(d)?.state !== 'fresh');
    if (staleDep) {
      states.set(stage.name, { stage: stage.name, state: 'stale', reasons: [{ code: 'upstream-stale', stage: staleDep }] });
      continue;
    }
    const hashes: Record<string, string | string[]> = {};
    for (const [name, input] of Object.entries(stage.inputs)) {
      const list = input.refs.map((ref) => {
        const state = states.get(ref);
        return state?.state === 'fresh' ? state.manifest.content_hash : '';
      });
      hashes[name] = input.many ? list : (list[0] ?? '');
    }
    let files: Record<string, string>;
    try {
      files = await externalFileHashes(stage, store.memo);
    } catch (error) {
      states.set(stage.name, { stage: stage.name, state: 'stale', reasons: [{ code: 'output-missing', detail: (error as Error).message }] });
      continue;
    }
    const record = keyRecordFor(stage, hashes, files, backend);
    const key = keyHash(record);
    const found = await store.lookup(key);
    if (found.status === 'hit') {
      states.set(stage.name, { stage: stage.name, state: 'fresh', key, manifest: found.manifest });
      continue;
    }
    const before = previous.get(stage.name)?.key_record;
    let reasons: StaleReason[] = before ? explainChange(before, record) : [{ code: 'never-run' }];
    if (found.status === 'corrupt') reasons = [{ code: 'output-missing', detail: found.detail }];
    else if (!reasons.length) reasons = [{ code: 'output-missing', detail: 'artifact not in the store' }];
    states.set(stage.name, { stage: stage.name, state: 'stale', key, reasons });
  }
  return [...states.values()];
}
