/**
 * Everything that happens during a run, as one discriminated union. The executor emits events;
 * loggers render them and never make decisions. Adding a variant fails to compile until every
 * renderer handles it (see `assertNever`).
 */
import type { KeyHash } from '../../artifacts/hash.js';
import type { StaleReason } from '../../artifacts/key.js';
import type { JsonValue } from '../../stages/types.js';
import type { ErrorReason } from '../../stages/errors.js';

export interface StageErrorInfo {
  /** A user-facing reason, or 'internal' for a bug in pipe. */
  readonly reason: ErrorReason | 'internal';
  readonly message: string;
  /** Present for internal errors only; shown with --debug. */
  readonly stack?: string;
}

export type StageStatus = 'ran' | 'cached' | 'failed' | 'skipped';

export interface StageSummary {
  readonly stage: string;
  readonly status: StageStatus;
  readonly key?: KeyHash;
  readonly seconds?: number;
  readonly reasons?: readonly StaleReason[];
  readonly detail?: string;
  readonly metrics?: Readonly<Record<string, JsonValue>>;
  /** The `pipe worker` that ran it (queue execution). */
  readonly worker?: string;
}

export type RunEvent =
  | { readonly type: 'run-start'; readonly pipeline: string; readonly stages: readonly string[]; readonly jobs: number; readonly store: string }
  /** `origin: 'remote'`: downloaded from the remote cache (verified) rather than found locally. */
  | { readonly type: 'stage-cached'; readonly stage: string; readonly key: KeyHash; readonly origin?: 'remote' }
  /** Another process holds the key's lease: this run waits for its artifact instead of recomputing it. */
  | { readonly type: 'stage-waiting'; readonly stage: string; readonly key: KeyHash; readonly holder: string }
  | { readonly type: 'stage-start'; readonly stage: string; readonly key: KeyHash; readonly reasons: readonly StaleReason[]; readonly threads?: number }
  /** The scheduler lent a running stage idle cores, or took some back (runner/execute/slots.ts). */
  | { readonly type: 'stage-threads'; readonly stage: string; readonly threads: number }
  /** The stage must run and waits for one of the --jobs slots (critical path first). */
  | { readonly type: 'stage-queued'; readonly stage: string; readonly key: KeyHash; readonly priority: number }
  /** Queue execution: a `pipe worker` took the stage (`worker` is its id, host:pid). */
  | { readonly type: 'stage-assigned'; readonly stage: string; readonly key: KeyHash; readonly worker: string }
  | { readonly type: 'stage-progress'; readonly stage: string; readonly done: number; readonly total: number; readonly label?: string; readonly worker?: string }
  | { readonly type: 'stage-log'; readonly stage: string; readonly message: string; readonly worker?: string }
  | { readonly type: 'stage-done'; readonly stage: string; readonly key: KeyHash; readonly seconds: number; readonly metrics: Readonly<Record<string, JsonValue>>; readonly backend?: string; readonly worker?: string }
  | { readonly type: 'stage-failed'; readonly stage: string; readonly seconds: number; readonly error: StageErrorInfo }
  | { readonly type: 'stage-skipped'; readonly stage: string; readonly because: string }
  | { readonly type: 'artifact-repaired'; readonly stage: string; readonly key: KeyHash; readonly detail: string }
  | { readonly type: 'notice'; readonly message: string }
  | { readonly type: 'run-end'; readonly seconds: number; readonly stages: readonly StageSummary[]; readonly interrupted: boolean };

