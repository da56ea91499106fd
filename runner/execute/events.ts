/**
 * Everything that happens during a run, as one discriminated union. The executor emits events;
 * loggers render them and never make decisions. Adding a variant fails to compile until every
 * renderer handles it (see `assertNever`).
 */
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
  readonly key?: string;
  readonly seconds?: number;
  readonly reasons?: readonly StaleReason[];
  readonly detail?: string;
  readonly metrics?: Readonly<Record<string, JsonValue>>;
}

export type RunEvent =
  | { readonly type: 'run-start'; readonly pipeline: string; readonly stages: readonly string[]; readonly jobs: number; readonly store: string }
  | { readonly type: 'stage-cached'; readonly stage: string; readonly key: string }
  | { readonly type: 'stage-start'; readonly stage: string; readonly key: string; readonly reasons: readonly StaleReason[] }
  | { readonly type: 'stage-progress'; readonly stage: string; readonly done: number; readonly total: number; readonly label?: string }
  | { readonly type: 'stage-log'; readonly stage: string; readonly message: string }
  | { readonly type: 'stage-done'; readonly stage: string; readonly key: string; readonly seconds: number; readonly metrics: Readonly<Record<string, JsonValue>>; readonly backend?: string }
  | { readonly type: 'stage-failed'; readonly stage: string; readonly seconds: number; readonly error: StageErrorInfo }
  | { readonly type: 'stage-skipped'; readonly stage: string; readonly because: string }
  | { readonly type: 'artifact-repaired'; readonly stage: string; readonly key: string; readonly detail: string }
  | { readonly type: 'notice'; readonly message: string }
  | { readonly type: 'run-end'; readonly seconds: number; readonly stages: readonly StageSummary[]; readonly interrupted: boolean };

export function assertNever(value: never): never {
  throw new Error(`internal error: unhandled ${JSON.stringify(value)}`);
}
