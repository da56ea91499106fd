/** Builds a planned stage's cache-key record once its inputs' content hashes are known. */
import type { ContentHash } from '../../artifacts/hash.js';
import { KEY_FORMAT, type KeyRecord } from '../../artifacts/key.js';
import type { FileHashMemo } from '../../artifacts/file-hashes.js';
import type { PlannedStage } from '../config/types.js';
import type { FileAccess, LocatedFiles } from '../../stages/types.js';

/** The stage's external files and their content hashes, or (with `lookup`) why one is not present locally. */
export async function externalFileHashes(stage: PlannedStage, memo: FileHashMemo, access: FileAccess): Promise<{ readonly located: LocatedFiles; readonly hashes: Record<string, string> } | { readonly notPresent: string }> {
  const found = (await stage.definition.fileInputs?.(stage.params, access)) ?? { files: {} };
  if ('notPresent' in found) return found;
  const hashes: Record<string, string> = {};
  for (const [name, path] of Object.entries(found.files)) hashes[name] = await memo.hash(path);
  return { located: found, hashes };
}

/**
 * `backend` is the backend the stage runs on (`auto` already resolved, runner/cli/context.ts): it
 * joins the key of every stage that uses one, since the backend changes the bytes it writes.
 */
export function keyRecordFor(stage: PlannedStage, inputHashes: Record<string, ContentHash | ContentHash[]>, files: Record<string, string>, backend: string): KeyRecord {
  const params = stage.definition.usesBackend ? { ...stage.keyParams, __backend: backend } : stage.keyParams;
  return { format: KEY_FORMAT, kind: stage.kind, impl: stage.impl, params, inputs: inputHashes, files, ...(stage.code ? { code: stage.code } : {}) };
}
