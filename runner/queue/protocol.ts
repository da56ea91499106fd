/**
 * What travels through the queue. A job is plain data: the StageWork (stage kind, implementation
 * version inside the key record, resolved params, inputs by key, the key itself). Its job id is
 * the key, so two runs that need the same artifact share one job.
 */
import { parseKeyHash, type ContentHash } from '../../artifacts/hash.js';
import { keyHash } from '../../artifacts/key.js';
import { isErrorReason } from '../../stages/errors.js';
import type { JsonValue } from '../../stages/types.js';
import type { StageErrorInfo } from '../execute/events.js';
import { isInputList, type InputKeyRef, type StageWork } from '../execute/stage-runner.js';

export type StageJobData = StageWork;

/** Sent by a worker through job progress, streamed to the run that enqueued the job. */
export type JobUpdate =
  | { readonly kind: 'assigned'; readonly worker: string }
  | { readonly kind: 'progress'; readonly done: number; readonly total: number; readonly label?: string }
  | { readonly kind: 'log'; readonly message: string };

export interface StageJobResult {
  readonly worker: string;
  readonly content_hash: ContentHash;
  readonly seconds: number;
  readonly backend?: string;
  readonly metrics: Readonly<Record<string, JsonValue>>;
  /** True when the worker found the artifact already committed and ran nothing. */
  readonly found: boolean;
}

/**
 * Why a job read from Redis cannot be run, or undefined: its key must be the hash of its own key
 * record and its inputs must be named by keys, or the worker would commit under a key that does
 * not describe the work (the job data is JSON from outside this process: its brands are unchecked).
 */
export function jobProblem(data: StageJobData): string | undefined {
  if (parseKeyHash(data.key) === undefined) return `job ${String(data.key)} has no valid key`;
  if (keyHash(data.keyRecord) !== data.key) return `job ${data.key.slice(0, 12)} (${data.stage}): its key is not the hash of its key record`;
  if (data.kind !== data.keyRecord.kind) return `job ${data.key.slice(0, 12)} (${data.stage}): it runs ${data.kind}, its key record names ${data.keyRecord.kind}`;
  for (const [name, ref] of Object.entries(data.inputKeys)) {
    const refs: readonly InputKeyRef[] = isInputList(ref) ? ref : [ref];
    if (refs.some((one) => parseKeyHash(one.key) === undefined)) return `job ${data.key.slice(0, 12)} (${data.stage}): input ${name} has no valid key`;
  }
  return undefined;
}

/** A job's failure reason carries the stage's error info as JSON, so the run can tell user errors from bugs. */
export function encodeFailure(info: StageErrorInfo): string {
  return JSON.stringify({ reason: info.reason, message: info.message });
}

export function decodeFailure(text: string): StageErrorInfo {
  try {
    const parsed = JSON.parse(text) as Partial<StageErrorInfo>;
    if (typeof parsed.message === 'string' && (parsed.reason === 'internal' || isErrorReason(parsed.reason))) return { reason: parsed.reason, message: parsed.message };
  } catch {
    // Not ours (e.g. BullMQ's own "job stalled more than allowable limit").
  }
  return { reason: 'worker-lost', message: text };
}

export function isJobUpdate(value: unknown): value is JobUpdate {
  return typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string';
}
