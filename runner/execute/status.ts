/**
 * Dry run: what `pipe run` would do, with a reason per stale stage, without running anything.
 * A stage whose input is stale cannot know its key yet and is reported as `upstream-stale`.
 * External files are only looked up, never fetched, and the store is only read (inspection is
 * side-effect free and works on a read-only store).
 */
import type { KeyHash } from '../../artifacts/hash.js';
import type { KeyRecord, StaleReason } from '../../artifacts/key.js';
import type { ArtifactReader, Manifest } from '../../artifacts/store.js';
import type { Plan } from '../config/types.js';
import { inputHashes, resolveStage } from './resolve.js';
import type { StageRecord } from './run-records.js';
import { findCheckpoint, unit } from './resume.js';

export type StageState =
  | { readonly stage: string; readonly state: 'fresh'; readonly key: KeyHash; readonly manifest: Manifest }
  | {
      readonly stage: string;
      readonly state: 'stale';
      readonly key?: KeyHash;
      readonly reasons: readonly StaleReason[];
      /** The key's record, when the key is known (what a resume lookup needs: runner/execute/resume.ts). */
      readonly keyRecord?: KeyRecord;
      /** Set for stages forced to rerun: they run from the start, never from a checkpoint. */
      readonly forced?: true;
      /**
       * The key could not be computed here (an external file is not present locally, or resolving
       * failed), so which artifacts this stage and those below it use is unknown: gc keeps them.
       */
      readonly undetermined?: true;
    };

export async function computeStatus(
  plan: Plan,
  store: ArtifactReader,
  previous: ReadonlyMap<string, StageRecord>,
  backend: string,
  selection?: ReadonlySet<string>,
  force?: ReadonlySet<string>,
): Promise<StageState[]> {
  // Each stage waits only for its own inputs, so independent stages' store lookups (manifest reads,
  // file checks) overlap instead of queueing one after another.
  const states = new Map<string, Promise<StageState>>();
  const stateOf = async (stage: Plan['stages'][number]): Promise<StageState> => {
    const deps = plan.dependencies.get(stage.name) ?? [];
    const depStates = new Map<string, StageState | undefined>(await Promise.all(deps.map(async (d) => [d, await states.get(d)] as const)));
    const staleDep = deps.find((d) => depStates.get(d)?.state !== 'fresh');
    if (staleDep) return { stage: stage.name, state: 'stale', reasons: [{ code: 'upstream-stale', stage: staleDep }] };
    const hashes = inputHashes(stage, (ref) => {
      const state = depStates.get(ref);
      return state?.state === 'fresh' ? state.manifest.content_hash : undefined;
    });
    let resolution;
    try {
      resolution = await resolveStage(stage, hashes, store, previous.get(stage.name), backend, force?.has(stage.name) === true, 'lookup');
    } catch (error) {
      return { stage: stage.name, state: 'stale', undetermined: true, reasons: [{ code: 'output-missing', detail: (error as Error).message }] };
    }
    const { key, found, reasons } = resolution;
    if (key !== undefined && found.status === 'hit' && !reasons.length) return { stage: stage.name, state: 'fresh', key, manifest: found.manifest };
    const forced = force?.has(stage.name) === true ? { forced: true as const } : {};
    return { stage: stage.name, state: 'stale', ...(key === undefined ? { undetermined: true } : { key, keyRecord: resolution.keyRecord }), reasons, ...forced };
  };
  // The plan lists every stage after its inputs, so each input's promise exists when a stage starts.
  for (const stage of plan.stages) if (!selection || selection.has(stage.name)) states.set(stage.name, stateOf(stage));
  return Promise.all(states.values());
}

/**
 * What a stale resumable stage would continue from, for `pipe status`: the same lookup `pipe run`
 * makes (resume.ts findCheckpoint, read-only), done only for the stages status shows. A string to
 * append to the stage's reasons, or undefined when there is nothing to say.
 */
export async function resumeNote(plan: Plan, store: ArtifactReader, state: StageState): Promise<string | undefined> {
  if (state.state !== 'stale' || !state.key || !state.keyRecord || state.forced) return undefined;
  const definition = plan.stages.find((s) => s.name === state.stage)?.definition;
  const choice = await findCheckpoint(store, definition, state.keyRecord, state.key);
  if (choice.status === 'resume') return `will resume from ${unit(choice.point)} ${choice.progress} checkpoint (${choice.key.slice(0, 12)})`;
  return choice.why;
}
