/**
 * The external files a stage reads (StageDefinition.fileInputs), as its thread gets them: located
 * once, when the key was made, and bound to the key by content hash. On the machine that planned
 * the run those same paths are read. A queue worker elsewhere locates its own copy, and a copy whose
 * bytes differ from what the key names is refused: committing it under that key would poison the
 * shared cache for everyone.
 */
import { access } from 'node:fs/promises';
import { sha256File } from '../../artifacts/hash.js';
import { StageInputError, type LocatedFiles, type Params, type StageDefinition } from '../../stages/types.js';

async function hashesMatch(files: Readonly<Record<string, string>>, expected: Readonly<Record<string, string>>): Promise<boolean> {
  const names = Object.keys(expected);
  if (names.length !== Object.keys(files).length) return false;
  for (const name of names) {
    const path = files[name];
    if (path === undefined) return false;
    try {
      await access(path);
    } catch {
      return false;
    }
    if ((await sha256File(path)) !== expected[name]) return false;
  }
  return true;
}

export async function externalFilesFor(
  definition: Pick<StageDefinition, 'kind' | 'fileInputs'>,
  params: Params,
  planned: LocatedFiles,
  expected: Readonly<Record<string, string>>,
): Promise<LocatedFiles> {
  if (!definition.fileInputs || Object.keys(expected).length === 0) return { files: {} };
  if (await hashesMatch(planned.files, expected)) return planned;
  // Not the planning machine's files (another machine, or they changed since): find this machine's.
  const found = await definition.fileInputs(params, 'fetch');
  if ('notPresent' in found) throw new StageInputError(`the ${definition.kind} stage's data files are not present on this machine: ${found.notPresent}`);
  for (const [name, sha] of Object.entries(expected)) {
    const path = found.files[name];
    const actual = path === undefined ? undefined : await sha256File(path);
    if (actual !== sha) {
      throw new StageInputError(
        `data file ${name} ${path === undefined ? 'is missing here' : `at ${path} has sha256 ${actual?.slice(0, 12) ?? '?'}…`}, but the run's cache key was made from ${sha.slice(0, 12)}…: ` +
          'this machine holds different data than the one that planned the run (or the file changed during the run). Give every worker the same data files, then rerun.',
      );
    }
  }
  return found;
}
