/**
 * How one stale stage becomes a committed artifact. The executor decides *whether* a stage runs
 * (key, lookup, lease); a StageRunner does the running: `localRunner` in a worker thread of this
 * process, `queueRunner` (runner/queue/) on a `pipe worker` somewhere else. Both end with the
 * artifact committed to the store under the stage's key.
 */
import { dirname, resolve } from 'node:path';
import type { ContentHash, KeyHash } from '../../artifacts/hash.js';
import type { KeyRecord } from '../../artifacts/key.js';
import type { ArtifactStore, InputRef, Manifest } from '../../artifacts/store.js';
import type { JsonValue, LocatedFiles, Params } from '../../stages/types.js';
import { UserError } from '../../stages/errors.js';
import { STAGES } from '../../stages/index.js';
import type { Plan } from '../config/types.js';
import type { InputArtifactData, LaunchHooks, Launcher } from './launcher.js';
import { JobRefusedError } from './work-check.js';
import { findCheckpoint, recordCheckpoint, resumeTargetOf, unit } from './resume.js';

/** One input artifact as a job names it: by the stage that made it and its key, never by path. */
export interface InputKeyRef {
  readonly stage: string;
  readonly key: KeyHash;
}

/** Everything needed to run a stage, as plain data (a queue job carries it as JSON). */
export interface StageWork {
  readonly pipeline: string;
  readonly stage: string;
  readonly kind: string;
  readonly params: Params;
  readonly key: KeyHash;
  readonly keyRecord: KeyRecord;
  /** Input name → the upstream artifact (a list for `many` inputs). */
  readonly inputKeys: Readonly<Record<string, InputKeyRef | readonly InputKeyRef[]>>;
  readonly backend?: string;
  readonly environment: Readonly<Record<string, string>>;
  /** The pipeline file's folder (StageContext.workDir). A worker elsewhere needs the repo at the same path. */
  readonly workDir?: string;
  /** Absolute paths of the plugin modules the stage's thread must load (plugin kinds and models). */
  readonly plugins?: readonly string[];
  /** Slots of `--jobs` granted to the stage: the threads it may run (StageContext.threads). */
  readonly threads?: number;
  /**
   * The external files as the planning machine located them; their hashes are in keyRecord.files.
   * The stage thread reads them when they are here with those hashes, else (another machine)
   * locates its own copy and checks it against the key (runner/execute/external-files.ts).
   */
  readonly external: LocatedFiles;
  /** Run from the start even if a checkpoint could be continued (`--force`: a real rerun). */
  readonly fromScratch?: boolean;
}

export interface RunHooks extends LaunchHooks {
  /** The stage was taken by a worker (queue execution): its id, e.g. "host:pid". */
  assigned?(worker: string): void;
  /** The stage reads this artifact besides its inputs (a checkpoint): the run's lease keeps it from gc. */
  usesKey?(key: KeyHash): void;
}

export interface RunOutcome {
  readonly manifest: Manifest;
  readonly dir: string;
  readonly seconds: number;
  readonly backend?: string;
  readonly worker?: string;
  readonly metrics: Readonly<Record<string, JsonValue>>;
}

export interface StageRunner {
  /**
   * Stages run on this machine's cores, with the threads the executor grants from `--jobs`. False
   * for queue workers: each job runs on one of the worker's own slots, so the run grants one slot
   * per job in flight.
   */
  readonly usesLocalCores: boolean;
  run(work: StageWork, hooks: RunHooks, signal: AbortSignal): Promise<RunOutcome>;
}

/**
 * An artifact committed by one process (a run or a worker) that another cannot see: they do not
 * share a store directory or a remote. The message ends with what to do about it.
 */
export class StoreMismatchError extends UserError {
  readonly reason = 'store-mismatch';
  constructor(what: string) {
    super(`${what}: give the run and its workers one shared --store directory or one --remote`);
  }
}

/**
 * Resolves a job's inputs in `store` to the data a stage thread reads (local directories), each
 * checked against the content hash its key record names: the key says which bytes went in, so an
 * input key that finds other bytes (or an input the record does not name) refuses the job.
 */
export async function resolveInputs(
  store: ArtifactStore,
  work: Pick<StageWork, 'inputKeys' | 'keyRecord'>,
): Promise<{ inputs: Record<string, InputArtifactData>; inputLists: Record<string, InputArtifactData[]>; inputRefs: Manifest['inputs'] }> {
  const one = async (name: string, ref: InputKeyRef, expected: ContentHash | undefined): Promise<InputArtifactData> => {
    const found = await store.lookup(ref.key);
    if (found.status !== 'hit') {
      throw new StoreMismatchError(`input ${ref.stage} (artifact ${ref.key.slice(0, 12)}) is not in the store at ${store.root}${found.status === 'corrupt' ? ` (${found.detail})` : ''}`);
    }
    const m = found.manifest;
    if (m.content_hash !== expected) throw new JobRefusedError(`inputs.${name}`, `artifact ${ref.key.slice(0, 12)} holds content ${m.content_hash.slice(0, 12)}, the key record names ${expected === undefined ? 'none' : expected.slice(0, 12)}`);
    return { stage: ref.stage, kind: m.kind, dir: found.dir, files: m.files, metrics: m.metrics, params: m.key_record.params };
  };
  const recorded = work.keyRecord.inputs;
  const named = Object.keys(work.inputKeys).sort();
  const missing = Object.keys(recorded).sort().find((name) => !named.includes(name));
  if (missing !== undefined) throw new JobRefusedError(`inputs.${missing}`, 'the key record names this input, the job does not');
  const inputs: Record<string, InputArtifactData> = {};
  const inputLists: Record<string, InputArtifactData[]> = {};
  const inputRefs: Record<string, InputRef | InputRef[]> = {};
  for (const [name, ref] of Object.entries(work.inputKeys)) {
    const expected = recorded[name];
    if (isInputList(ref)) {
      if (!Array.isArray(expected) || expected.length !== ref.length) throw new JobRefusedError(`inputs.${name}`, `the job names ${ref.length} artifact(s), the key record ${Array.isArray(expected) ? expected.length : 'one or none'}`);
      const hashes: readonly ContentHash[] = expected;
      const list = await Promise.all(ref.map((each, i) => one(name, each, hashes[i])));
      inputLists[name] = list;
      inputRefs[name] = list.map((data, i) => ({ stage: data.stage, content_hash: hashes[i] as ContentHash }));
    } else {
      if (Array.isArray(expected)) throw new JobRefusedError(`inputs.${name}`, 'the job names one artifact, the key record a list');
      const hash = expected as ContentHash | undefined;
      const data = await one(name, ref, hash);
      inputs[name] = data;
      // one() refused a missing hash, so the record names this content.
      inputRefs[name] = { stage: data.stage, content_hash: hash as ContentHash };
    }
  }
  return { inputs, inputLists, inputRefs };
}

export function isInputList(ref: InputKeyRef | readonly InputKeyRef[]): ref is readonly InputKeyRef[] {
  return Array.isArray(ref);
}

/**
 * Runs the stage in a thread of this process (through `launcher`) and commits its temp dir. Used
 * by `pipe run` without a queue, and by `pipe worker` for the jobs it takes.
 */
export function localRunner(store: ArtifactStore, launcher: Launcher): StageRunner {
  return {
    usesLocalCores: true,
    async run(work, hooks, signal) {
      const { inputs, inputLists, inputRefs } = await resolveInputs(store, work);
      // This process's own store: a worker whose store lacks the checkpoint trains from the start.
      const definition = STAGES[work.kind];
      // A failed lookup only costs the resume: a straight run writes the same bytes.
      const checkpoint = work.fromScratch ? undefined : await findCheckpoint(store, definition, work.keyRecord, work.key).catch((error: unknown) => ({ status: 'none' as const, why: `the checkpoint lookup failed (${(error as Error).message})` }));
      const resume =
        checkpoint?.status === 'resume'
          ? { artifact: { stage: checkpoint.manifest.stage, kind: checkpoint.manifest.kind, dir: checkpoint.dir, files: checkpoint.manifest.files, metrics: checkpoint.manifest.metrics, params: checkpoint.manifest.key_record.params }, progress: checkpoint.progress }
          : undefined;
      if (checkpoint?.status === 'resume') hooks.usesKey?.(checkpoint.key);
      if (checkpoint?.status === 'resume') hooks.log(`resuming from ${unit(checkpoint.point)} ${checkpoint.progress} checkpoint (${checkpoint.key.slice(0, 12)})`);
      else if (checkpoint?.why) hooks.log(`not resuming: ${checkpoint.why}`);
      const startedAt = new Date();
      const tempDir = await store.createTemp(work.key);
      try {
        const result = await launcher(
          {
            stage: work.stage,
            key: work.key,
            keyRecord: work.keyRecord,
            kind: work.kind,
            params: work.params,
            inputs,
            inputLists,
            outDir: tempDir,
            ...(work.backend !== undefined ? { backend: work.backend } : {}),
            ...(work.workDir !== undefined ? { workDir: work.workDir } : {}),
            ...(work.plugins !== undefined ? { plugins: work.plugins } : {}),
            ...(work.threads !== undefined ? { threads: work.threads } : {}),
            external: work.external,
            ...(resume ? { resume } : {}),
          },
          hooks,
          signal,
        );
        const seconds = (Date.now() - startedAt.getTime()) / 1000;
        const manifest = await store.commit(tempDir, {
          key: work.key,
          stage: work.stage,
          pipeline: work.pipeline,
          kind: work.kind,
          key_record: work.keyRecord,
          inputs: inputRefs,
          metrics: result.metrics ?? {},
          ...(result.backend !== undefined ? { backend: result.backend } : {}),
          started_at: startedAt.toISOString(),
          duration_s: seconds,
          environment: work.environment,
        });
        const target = result.checkpoint ? resumeTargetOf(definition, work.keyRecord) : undefined;
        if (target && result.checkpoint) {
          // Only a hint for later runs: failing to write it costs a resume, never this stage.
          await recordCheckpoint(store.root, target, result.checkpoint.progress, manifest.key).catch((error: unknown) => hooks.log(`could not index the checkpoint: ${(error as Error).message}`));
        }
        return { manifest, dir: store.artifactDir(work.key), seconds, metrics: manifest.metrics, ...(result.backend !== undefined ? { backend: result.backend } : {}) };
      } catch (error) {
        // Nothing half-written is ever trusted: the temp dir is dropped.
        await store.discard(tempDir).catch(() => undefined);
        throw error;
      }
    },
  };
}

/**
 * Adds what a stage needs to find the user's code: the pipeline's folder, and the plugin modules when
 * the kind is a plugin's or looks models up (loading plugins costs each thread a TypeScript transpile).
 */
export function withPipelineWork(runner: StageRunner, planned: Plan): StageRunner {
  const plugins = planned.pipeline.plugins ?? [];
  const workDir = dirname(resolve(planned.pipeline.source.file.path));
  const needsPlugins = (kind: string): boolean => plugins.length > 0 && (!Object.hasOwn(STAGES, kind) || STAGES[kind]?.usesModels === true);
  return { usesLocalCores: runner.usesLocalCores, run: (work, hooks, signal) => runner.run({ ...work, workDir, ...(needsPlugins(work.kind) ? { plugins } : {}) }, hooks, signal) };
}
