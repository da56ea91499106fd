/**
 * The contract between the runner and a stage implementation.
 * A stage is one file exporting a `StageDefinition`, one line in `stages/index.ts`,
 * and a params schema in `schemas/stages/<kind>.schema.json`.
 * Stages do all I/O through the context, so the runner sees every input and output.
 */
import { UserError } from './errors.js';

/** JSON Schema object (draft 2020-12 subset that ajv accepts). */
export type JsonSchema = Readonly<Record<string, unknown>>;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type Params = Readonly<Record<string, JsonValue>>;

/** One file of a finished artifact, as recorded in its manifest. */
export interface ArtifactFile {
  readonly sha256: string;
  readonly bytes: number;
}

/** A finished, verified upstream artifact handed to a stage as an input. */
export interface InputArtifact {
  /** Stage name that produced it (after sweep expansion). */
  readonly stage: string;
  readonly kind: string;
  /** Absolute directory holding the files. Read-only. */
  readonly dir: string;
  readonly files: Readonly<Record<string, ArtifactFile>>;
  readonly metrics: Readonly<Record<string, JsonValue>>;
  readonly params: Params;
  /** Absolute path of one output file; throws a StageInputError naming the stage if absent. */
  path(file: string): string;
  has(file: string): boolean;
}

export interface Progress {
  readonly done: number;
  readonly total: number;
  /** Short unit or phase, e.g. "epoch 3/10" or "trees". */
  readonly label?: string;
}

export interface StageContext {
  readonly stage: string;
  readonly params: Params;
  /** Single inputs, keyed by the input names the stage declares. */
  readonly inputs: Readonly<Record<string, InputArtifact>>;
  /** Inputs declared with `many: true` (e.g. the report's list of evaluations), in the order written. */
  readonly inputLists: Readonly<Record<string, readonly InputArtifact[]>>;
  /** Fresh temporary directory: write every output file here. The runner hashes and commits it. */
  readonly outDir: string;
  /** Aborted on Ctrl-C or when the run is cancelled; check between batches/epochs. */
  readonly signal: AbortSignal;
  progress(p: Progress): void;
  log(message: string): void;
  /** Backend forced by the pipeline/CLI (`tensorflow` | `wasm` | `cpu`), if any. */
  readonly backend?: string;
  /** Directory of the pipeline file: relative paths in params (e.g. exec's `cmd`) resolve against it. */
  readonly workDir?: string;
  /**
   * Threads the stage may keep busy now: the slots of `--jobs` it holds (at most what its
   * `threads()` asked). Running more would oversubscribe the cores other stages use. For a
   * resizable stage it changes while the stage runs: read it again at each safe point.
   */
  readonly threads: number;
  /**
   * The external files the stage declared in `fileInputs`, located once by the runner and hashed
   * into the stage's key: read these, never locate them again (the bytes read are the bytes the
   * key names). Empty for stages without external files.
   */
  readonly external: LocatedFiles;
  /**
   * A resumable stage's own checkpoint to continue from (the runner found and verified it; see
   * runner/execute/resume.ts). The output must be exactly what a run from the start would write.
   */
  readonly resume?: ResumeFrom;
}

export interface StageResult {
  /** Small JSON figures shown by `pipe show` and used by `compare` (accuracy, fit_s, …). */
  readonly metrics?: Record<string, JsonValue>;
  /** Compute backend actually used (recorded in the manifest). */
  readonly backend?: string;
  /**
   * A resumable stage wrote a checkpoint under CHECKPOINT_DIR of its output after this much progress
   * (epochs, for train): the runner indexes the artifact so a longer run can continue from it.
   */
  readonly checkpoint?: { readonly progress: number };
}

/** Where a resumable stage keeps its checkpoint inside its own artifact. */
export const CHECKPOINT_DIR = 'checkpoint';

/** A problem with a stage's params that no JSON Schema can state (one param against another). */
export interface ParamProblem {
  /** Path of the param to point at, inside the stage's params. */
  readonly path: readonly string[];
  /** What is wrong and what to do. */
  readonly message: string;
}

/**
 * Where a resumable stage's run stands in its progress, from its key params. Two stages whose key
 * records differ only in `progress` share `family` and `horizon`, and the one with less progress
 * is a state the other passes through: the longer can continue from the shorter's checkpoint.
 */
export interface ResumePoint {
  /** The key params less the progress and horizon params. */
  readonly family: Params;
  /** How far the stage runs (epochs). */
  readonly progress: number;
  /** The resolved horizon the progress is planned against (schedule_epochs): checkpoints of another horizon do not fit. */
  readonly horizon: number;
  /** The params' names, for messages (`epochs`, `schedule_epochs`). */
  readonly progressParam: string;
  readonly horizonParam: string;
}

/** A checkpoint the runner found for a resumable stage, verified like any input artifact. */
export interface ResumeFrom {
  readonly artifact: InputArtifact;
  /** The checkpoint's progress (epochs done), at most the stage's own. */
  readonly progress: number;
}

export interface StageInputSpec {
  readonly name: string;
  readonly required: boolean;
  /** Accepts a list of stage references; delivered in `ctx.inputLists`. */
  readonly many?: boolean;
  readonly description: string;
}

export interface StageDefinition {
  readonly kind: string;
  /** Bump when the stage's output for the same params and inputs may change: it invalidates caches. */
  readonly version: number;
  readonly description: string;
  readonly inputs: readonly StageInputSpec[];
  /** Accepts inputs under any name besides the declared ones (single, optional), e.g. `exec`. */
  readonly openInputs?: boolean;
  /** Params schema; for `train`, model-specific params are validated by the model's schema as well. */
  readonly schema: JsonSchema;
  /**
   * Params that pick an implementation with its own schema and version (e.g. `train`'s `model`).
   * The runner checks the chosen option exists, validates params against its schema, and adds its
   * version to the cache key.
   */
  readonly variant?: StageVariant;
  /**
   * External files the stage reads (e.g. the IDX files), name → absolute path. Resolved before the
   * run; their content hashes join the cache key. With `fetch` (only `pipe run`) the stage may
   * download them; with `lookup` (status, compare, report's pre-check…) it must only look, and
   * report a file that is not here as `notPresent`. Throw a StageInputError when they cannot be found.
   * Called by the runner only: `run` reads what it found from `StageContext.external`.
   */
  fileInputs?(params: Params, access: FileAccess): Promise<FileInputs>;
  /** True for stages whose output depends on the TensorFlow.js backend (the backend joins the key). */
  readonly usesBackend?: boolean;
  /**
   * Metrics every run reports when its input has a validation set, known before it runs: what a
   * search may rank trials by (runner/config/asha.ts checks a search's metric against them).
   */
  readonly validationMetrics?: readonly string[];
  /**
   * True for stages that run a trained model's code (train, and every stage that loads a model from
   * an upstream artifact): their threads load the pipeline's plugin models, and the code of plugin
   * models upstream joins their key. The one home of that rule (stage-runner.ts, plan-code.ts).
   */
  readonly usesModels?: boolean;
  /**
   * An output file copied, after every run where the stage ran or was cached, to a stable path
   * `<dir>/<pipeline name><ext>` (e.g. the report to reports/quick.html).
   */
  readonly publish?: { readonly file: string; readonly dir: string; readonly ext: string };
  /**
   * The threads the stage can use for these params (default one, fixed). The scheduler grants up
   * to `max` of `--jobs`' slots and tells the stage in `StageContext.threads`. Only for stages whose
   * output does not depend on the thread count: it is not part of the cache key.
   */
  threads?(params: Params): ThreadNeed;
  /**
   * Checks between params that a schema cannot express (e.g. schedule_epochs ≥ epochs), on params
   * with defaults filled in. The planner reports each problem at the param's place in the file,
   * and a stage thread refuses a job whose params have one.
   */
  checkParams?(params: Params): readonly ParamProblem[];
  /**
   * For a stage that can continue from a checkpoint of its own kind (train, for tfjs models): its
   * resume point for these key params, or undefined when these params cannot resume.
   */
  resumePoint?(keyParams: Params): ResumePoint | undefined;
  run(ctx: StageContext): Promise<StageResult>;
}

/** What a stage (or model) can do with threads: see StageDefinition.threads and runner/execute/slots.ts. */
export interface ThreadNeed {
  /** The most threads it can keep busy. */
  readonly max: number;
  /**
   * It reads `StageContext.threads` again as it runs and follows changes (data-parallel training
   * does, between steps), so the scheduler may lend it idle cores and take them back.
   */
  readonly resizable?: boolean;
}

/** How external files are resolved: `fetch` may download (only `pipe run`), `lookup` never writes. */
export type FileAccess = 'fetch' | 'lookup';

/** External files, located: name → absolute path, and where they were found (for the log). */
export interface LocatedFiles {
  readonly files: Readonly<Record<string, string>>;
  readonly source?: string;
}

/** What `fileInputs` found: every file, or (in `lookup` mode) why one is not present locally. */
export type FileInputs = LocatedFiles | { readonly notPresent: string };

export interface StageVariant {
  readonly param: string;
  readonly options: Readonly<Record<string, { readonly schema: JsonSchema; readonly version: number; readonly description: string }>>;
}

/** A stage failed because of its inputs or params (user-facing, no stack trace). */
export class StageInputError extends UserError {
  readonly reason = 'stage-input';
}
