/**
 * The closed set of user-facing errors. Anything a user can cause (a bad file, flag, param, input
 * artifact, a busy store) is a `UserError` with one of these literal reasons; everything else is a
 * bug in pipe and is printed as an internal error with a request to report it. The CLI switches
 * over `ErrorReason` exhaustively, so adding a reason fails to compile until it has an exit code.
 */
export type ErrorReason =
  /** The pipeline file (or a --set) is invalid: located diagnostics, exit 2. */
  | 'pipeline-invalid'
  /** A wrong command line or environment variable: exit 2. */
  | 'usage'
  /** A stage's inputs or params do not fit what it needs (PCA wider than the data, k > rows, one class…). */
  | 'stage-input'
  /** A forced TensorFlow.js backend cannot start. */
  | 'backend-unavailable'
  /** A saved model's files are missing, damaged or of another model. */
  | 'model-files'
  /** A .npy file is not valid. */
  | 'npy-format'
  /** Another pipe process holds the store: exit 4. */
  | 'store-busy'
  /** The user pressed Ctrl-C: exit 130. */
  | 'interrupted'
  /** The S3 remote cache cannot be reached or refused a request (URL, credentials). */
  | 'remote-unavailable'
  /** The Redis behind --queue cannot be reached. */
  | 'queue-unavailable'
  /** A queued stage was lost by its workers (e.g. killed more often than BullMQ retries). */
  | 'worker-lost'
  /** A worker committed a stage the run's own store cannot see (no shared store or remote). */
  | 'store-mismatch'
  /**
   * A stage job disagrees with its own key record (kind, version, params, backend, inputs, code), or
   * asks a worker for what it was not started to allow (exec, plugins, a folder outside --repo).
   */
  | 'job-refused'
  /** An exec stage's command exited non-zero or was killed: the user's script failed, not pipe. */
  | 'exec-failed';

/**
 * What a queue worker does when a stage fails for this reason: `retry` hands the job to another
 * worker (the cause may be this machine or this moment), `final` fails it at once, since the same
 * job fails the same way everywhere. A Record, so a new reason does not compile until it is decided.
 */
export const ON_WORKER_FAILURE: Readonly<Record<ErrorReason | 'internal', 'retry' | 'final'>> = {
  internal: 'retry',
  'pipeline-invalid': 'final',
  usage: 'final',
  'stage-input': 'final',
  'backend-unavailable': 'retry',
  'model-files': 'final',
  'npy-format': 'final',
  'store-busy': 'retry',
  interrupted: 'retry',
  'remote-unavailable': 'retry',
  'queue-unavailable': 'retry',
  'worker-lost': 'retry',
  'store-mismatch': 'retry',
  'job-refused': 'final',
  'exec-failed': 'final',
};

/** Every user-facing reason, from the Record above, which the compiler keeps complete. */
export const ERROR_REASONS: readonly ErrorReason[] = Object.keys(ON_WORKER_FAILURE).filter((reason): reason is ErrorReason => reason !== 'internal');

export abstract class UserError extends Error {
  abstract readonly reason: ErrorReason;
}

/** Whether a plain `{ reason }` (e.g. sent back by a worker thread) names a user-facing reason. */
export function isErrorReason(value: unknown): value is ErrorReason {
  return typeof value === 'string' && (ERROR_REASONS as readonly string[]).includes(value);
}

/** A saved model whose files do not load (shared by train's models, explain and predict). */
export class ModelFilesError extends UserError {
  readonly reason = 'model-files';
  constructor(
    readonly dir: string,
    detail: string,
    what = 'the saved model',
  ) {
    super(`${dir}: cannot load ${what} (${detail})`);
  }
}

/** The `never` guard that ends an exhaustive switch: a new case fails to compile until it is handled. */
export function assertNever(value: never): never {
  throw new Error(`internal error: unhandled ${JSON.stringify(value)}`);
}

/** The message of anything thrown (an Error's message, or the value itself as text), for one-line reports. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
