/** Shared CLI plumbing: load + plan a pipeline file, open its store, read run history. */
import { resolve } from 'node:path';
import { LocalStore, LocalStoreReader, type ArtifactReader, type ArtifactStore } from '../../artifacts/store.js';
import { STAGES } from '../../stages/index.js';
import { BACKENDS, type Plan } from '../config/types.js';
import { autoBackend, type BackendName } from '../../stages/tf/backend.js';
import { lastSuccessful, readRunRecords, type StageRecord } from '../execute/run-records.js';
import { planWithPlugins } from '../plugins/plan-code.js';
import { UsageError } from './usage-error.js';

export interface CommonFlags {
  readonly store?: string;
  readonly set?: readonly string[];
  readonly backend?: string;
  /** Remote cache URL (s3://bucket/prefix), overriding the pipeline file's `remote:`. */
  readonly remote?: string;
  /** Use the remote for reads only (consumers: see "Cache poisoning" in docs/design.md). */
  readonly remoteReadOnly?: boolean;
  /** --max-variants, already validated. */
  readonly maxVariants?: number;
}

export function isManyInput(kind: string, input: string): boolean {
  return STAGES[kind]?.inputs.find((i) => i.name === input)?.many === true;
}

/** Loads, validates and plans a pipeline file, with its plugins and the hashes of users' code. */
export async function planFile(file: string, flags: CommonFlags): Promise<Plan> {
  return planWithPlugins(file, flags.set ?? [], flags.maxVariants);
}

export function storeRoot(flags: CommonFlags, fromPipeline?: string): string {
  return resolve(flags.store ?? process.env['PIPE_STORE'] ?? fromPipeline ?? '.pipe');
}


/**
 * The backend stages run on and their keys name: `--backend`, else the file's `backend:`, with
 * `auto` resolved to this machine's best (stages/tf/backend.ts autoBackend), so `--backend wasm` and
 * `auto` on a machine without tfjs-node share one key, and installing tfjs-node changes it.
 */
export function backendChoice(flags: CommonFlags, planned?: Plan): BackendName {
  const value = flags.backend ?? planned?.pipeline.backend ?? 'auto';
  const known = BACKENDS.find((b) => b === value);
  if (known === undefined) throw new UsageError(`--backend must be ${BACKENDS.join(', ')} (got "${value}")`);
  return known === 'auto' ? autoBackend() : known;
}

/** The store for commands that write (gc); `pipe run` uses openRunStore. */
export async function openStore(root: string): Promise<ArtifactStore> {
  return LocalStore.open(root);
}

/**
 * The store for inspection (status, ls, show, compare, best, predict, report's pre-check): reads
 * only, so it works on a read-only store, and a store that does not exist is simply empty.
 */
export async function openReader(root: string): Promise<ArtifactReader> {
  return LocalStoreReader.openReadOnly(root);
}

/**
 * The store a run uses: the local directory, plus the remote cache when one is configured. The
 * remote is checked once up front, so a wrong URL or missing credentials fail at once, by name.
 */
export async function openRunStore(root: string, flags: CommonFlags, planned?: Plan, warn?: (message: string) => void): Promise<ArtifactStore> {
  const url = flags.remote ?? process.env['PIPE_REMOTE'] ?? planned?.pipeline.remote;
  const local = await LocalStore.open(root);
  if (!url) return local;
  // Loaded only when a remote is configured: the AWS SDK is large, and most runs are local.
  const { S3Remote } = await import('../../artifacts/s3-remote.js');
  const { RemoteBackedStore } = await import('../../artifacts/remote-store.js');
  const remote = new S3Remote(url, flags.remoteReadOnly === true);
  await remote.check();
  return new RemoteBackedStore(local, remote, warn);
}

export async function previousRuns(root: string, pipeline: string): Promise<Map<string, StageRecord>> {
  return lastSuccessful(await readRunRecords(root), pipeline);
}
