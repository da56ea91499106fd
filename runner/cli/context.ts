/** Shared CLI plumbing: load + plan a pipeline file, open its store, read run history. */
import { resolve } from 'node:path';
import { LocalStore } from '../../artifacts/store.js';
import { STAGES } from '../../stages/index.js';
import type { BackendChoice, Plan } from '../config/types.js';
import { lastSuccessful, readRunRecords, type StageRecord } from '../execute/run-records.js';
import { planWithPlugins } from '../plugins/plan-code.js';
import { UsageError } from './usage-error.js';

export interface CommonFlags {
  readonly store?: string;
  readonly set?: readonly string[];
  readonly backend?: string;
}

export function isManyInput(kind: string, input: string): boolean {
  return STAGES[kind]?.inputs.find((i) => i.name === input)?.many === true;
}

/** Loads, validates and plans a pipeline file, with its plugins and the hashes of users' code. */
export async function planFile(file: string, flags: CommonFlags): Promise<Plan> {
  return planWithPlugins(file, flags.set ?? []);
}

export function storeRoot(flags: CommonFlags, fromPipeline?: string): string {
  return resolve(flags.store ?? process.env['PIPE_STORE'] ?? fromPipeline ?? '.pipe');
}

export function backendChoice(flags: CommonFlags, planned?: Plan): BackendChoice {
  const value = flags.backend ?? planned?.pipeline.backend ?? 'auto';
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(value)) throw new UsageError(`--backend must be auto, tensorflow, wasm or cpu (got "${value}")`);
  return value as BackendChoice;
}

export async function openStore(root: string): Promise<LocalStore> {
  return LocalStore.open(root);
}

export async function previousRuns(root: string, pipeline: string): Promise<Map<string, StageRecord>> {
  return lastSuccessful(await readRunRecords(root), pipeline);
}
