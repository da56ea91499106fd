/**
 * The JSON `pipe ui`'s server sends its page: one set of types, imported by the server modules
 * that build the payloads and (type-only, erased at compile time) by the client modules that read
 * them, so the two cannot drift apart.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A stage's state in the graph: computeStatus's fresh/stale, refined by run history and live runs. */
export type UiState = 'fresh' | 'stale' | 'never-run' | 'queued' | 'running' | 'failed';

export interface UiProgress {
  readonly done: number;
  readonly total: number;
  readonly label?: string;
}

export interface GraphStage {
  readonly name: string;
  readonly group: string;
  readonly kind: string;
  /** Names of the stages it reads from. */
  readonly deps: readonly string[];
  readonly state: UiState;
  readonly key?: string;
  /** Why it would run (formatReason's words), for stale and never-run stages. */
  readonly reasons: readonly string[];
  readonly progress?: UiProgress;
  /** The error of its last failed run. */
  readonly error?: string;
}

export interface GraphPayload {
  /** The pipeline file as given on the command line: the id the page uses for it. */
  readonly file: string;
  readonly pipeline: string;
  /** Set when the file does not load or plan (the page shows it; the last good graph is not kept). */
  readonly error?: string;
  readonly stages: readonly GraphStage[];
  /** The run of this pipeline in progress, if any. */
  readonly liveRun?: string;
  /** Milliseconds since the epoch when this status was computed. */
  readonly computedAt: number;
}

export interface ParamRow {
  readonly name: string;
  readonly value: Json;
  /** default | pipeline defaults | stage | sweep | --set */
  readonly source: string;
  /** config render's words: "set in tiny.yaml:12", "from --set a.b=1"… */
  readonly where: string;
  /** False for a param left at a default that is omitted from the key (x-key-omit-at-default). */
  readonly inKey: boolean;
}

export interface FileRow {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface InputRow {
  readonly name: string;
  readonly refs: readonly { readonly stage: string; readonly content_hash: string }[];
}

export interface ArtifactDetail {
  readonly key: string;
  readonly content_hash: string;
  readonly impl: string;
  readonly inputs: readonly InputRow[];
  /** The manifest's key_record.params: exactly what `pipe show --json` prints. */
  readonly keyParams: Readonly<Record<string, Json>>;
  readonly metrics: Readonly<Record<string, Json>>;
  readonly started_at: string;
  readonly finished_at: string;
  readonly duration_s: number;
  readonly backend?: string;
  readonly files: readonly FileRow[];
}

export interface StagePayload {
  readonly file: string;
  readonly stage: GraphStage;
  readonly params: readonly ParamRow[];
  /** The artifact of its current key, or else of its last successful run (`current` says which). */
  readonly artifact?: ArtifactDetail;
  readonly current: boolean;
}

export interface NpySummary {
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absent for arrays too large to scan (the page says so). */
  readonly stats?: { readonly min: number; readonly max: number; readonly mean: number; readonly std: number };
}

export interface RunRow {
  readonly id: string;
  readonly pipeline: string;
  readonly file: string;
  readonly started_at: string;
  readonly finished_at: string;
  readonly interrupted: boolean;
  readonly counts: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly failed: readonly { readonly stage: string; readonly error: string }[];
}

export interface RunsPayload {
  readonly runs: readonly RunRow[];
  /** Runs whose event log is still being written by a live process. */
  readonly live: readonly string[];
}

export interface SweepRow {
  readonly variant: string;
  readonly state: string;
  readonly params: Readonly<Record<string, Json>>;
  readonly metrics: Readonly<Record<string, number>>;
  readonly seconds: number;
}

export interface SweepPayload {
  readonly file: string;
  readonly rows: readonly SweepRow[];
  /** `pipe compare`'s columns: the params that vary, then every metric. */
  readonly paramKeys: readonly string[];
  readonly metricKeys: readonly string[];
}

export interface DiffPayload {
  readonly a: string;
  readonly b: string;
  readonly params: readonly { readonly name: string; readonly a: Json; readonly b: Json }[];
  readonly metrics: readonly { readonly name: string; readonly a: number | null; readonly b: number | null; readonly delta: number | null }[];
}

export interface ArtifactRow {
  readonly key: string;
  readonly stage: string;
  readonly pipeline: string;
  readonly kind: string;
  readonly bytes: number;
  readonly finished_at: string;
  readonly files: readonly FileRow[];
  /** gc (with its defaults and the pipeline files given to pipe ui) would delete it. */
  readonly collectable: boolean;
}

export interface ArtifactsPayload {
  readonly artifacts: readonly ArtifactRow[];
  /** What gc keeps, in words, or why the gc view could not be computed. */
  readonly gcNote: string;
}

/** Server-sent events: `graph` (a pipeline's whole graph changed), `progress` (one stage's progress), `runs` (history changed). */
export interface ProgressMessage {
  readonly file: string;
  readonly stage: string;
  readonly progress: UiProgress;
}
