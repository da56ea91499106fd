/** Types of each phase: StageConfig (as written) → PlannedStage (resolved, validated) → Plan. */
import type { JsonValue, Params, StageDefinition } from '../../stages/types.js';
import type { Diagnostic } from '../diagnostics.js';
import type { JsonPath, ParsedSource } from './source.js';
import type { AshaSettings } from './asha.js';

/** `--backend` / `backend:` values (the CLI offers and completes these). */
export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

/** A sweep past this many variants is refused before anything is built (override: --max-variants N). */
export const MAX_VARIANTS = 1000;

/** Where a resolved param value came from, for `pipe config render` and error locations. */
export type Provenance =
  | { readonly source: 'file'; readonly path: JsonPath }
  | { readonly source: 'defaults'; readonly path: JsonPath }
  | { readonly source: 'sweep'; readonly path: JsonPath }
  | { readonly source: 'cli'; readonly text: string }
  | { readonly source: 'schema-default' };

/** One stage as written in the file (after `${params.*}` interpolation and sweep expansion). */
export interface StageConfig {
  readonly name: string;
  /** The name written in the file; equals `name` unless the stage is a sweep variant. */
  readonly group: string;
  readonly kind: string;
  readonly description?: string;
  readonly inputs: Readonly<Record<string, string | readonly string[]>>;
  readonly params: Readonly<Record<string, JsonValue>>;
  readonly provenance: Readonly<Record<string, Provenance>>;
  /** Swept values of this variant (param → value), absent for plain stages. */
  readonly variant?: Readonly<Record<string, JsonValue>>;
  /** On every trial of a `search: { strategy: asha }`: checked by the planner, then refused (resolve.ts). */
  readonly asha?: AshaSettings;
  /** YAML path of the stage in the file. */
  readonly path: JsonPath;
}

export interface PipelineConfig {
  readonly name: string;
  readonly description?: string;
  readonly store?: string;
  /** Remote artifact cache URL (s3://bucket/prefix); --remote overrides it. */
  readonly remote?: string;
  /** Job queue URL (redis://host:port) for distributed execution; --queue and $PIPE_QUEUE override it. */
  readonly queue?: string;
  readonly backend: BackendChoice;
  readonly defaults: Readonly<Record<string, Readonly<Record<string, JsonValue>>>>;
  readonly stages: readonly StageConfig[];
  readonly source: ParsedSource;
  /** Problems found while loading that do not stop planning; the planner reports them with its own. */
  readonly diagnostics: readonly Diagnostic[];
  /** Absolute paths of the `plugins:` modules (loaded again in each stage's worker thread). */
  readonly plugins?: readonly string[];
}

export interface PlannedInput {
  readonly many: boolean;
  /** Planned stage names, in the order written. */
  readonly refs: readonly string[];
}

export interface PlannedStage {
  readonly name: string;
  readonly group: string;
  readonly kind: string;
  readonly definition: StageDefinition;
  /** Implementation version that joins the key, e.g. "train@1+cnn@2". */
  readonly impl: string;
  readonly params: Params;
  /** `params` less those marked `x-key-omit-at-default` that hold their default: what joins the key (resolve.ts). */
  readonly keyParams: Params;
  readonly provenance: Readonly<Record<string, Provenance>>;
  readonly inputs: Readonly<Record<string, PlannedInput>>;
  readonly variant?: Readonly<Record<string, JsonValue>>;
  readonly path: JsonPath;
  /** Hashes of the user's code this stage runs (plugin modules, exec deps); joins the key as `code`. */
  readonly code?: Readonly<Record<string, string>>;
}

/** Type-level only: the brand that keeps hand-built graphs out of the executor. */
declare const PLANNED: unique symbol;

/** What a plan holds. */
export interface PlanGraph {
  readonly pipeline: PipelineConfig;
  /** Topological order (dependencies first), ties broken by name for stable output. */
  readonly stages: readonly PlannedStage[];
  readonly byName: ReadonlyMap<string, PlannedStage>;
  readonly dependencies: ReadonlyMap<string, readonly string[]>;
  readonly dependents: ReadonlyMap<string, readonly string[]>;
  /** Length of the longest chain from a stage to a sink: bigger starts first. */
  readonly priority: ReadonlyMap<string, number>;
}

/**
 * A validated, acyclic stage graph. Only runner/plan/plan.ts makes one (`plan()`, and `withUserCode()`
 * for plugin-aware planning): the brand makes any other object a type error, so whatever the
 * executor gets has been through validation, cycle detection and ordering.
 */
export type Plan = PlanGraph & { readonly [PLANNED]: true };
