/**
 * External files reach a stage located once and bound to its key by content hash: the planner's
 * paths are read when they still hold those bytes; another machine locates its own copy, and a copy
 * with other bytes is refused instead of being committed under a key that names different data.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../artifacts/hash.js';
import { externalFilesFor } from '../../runner/execute/external-files.js';
import { StageInputError, type FileAccess, type FileInputs, type StageDefinition } from '../../stages/types.js';

describe('externalFilesFor', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipe-external-'));
    await writeFile(join(dir, 'a.bin'), 'the bytes the key names');
    await writeFile(join(dir, 'other.bin'), 'another copy, other bytes');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const expected = { data: sha256('the bytes the key names') };
  /** A stage whose fileInputs finds `path` on "this machine", recording each call. */
  const stage = (path: string, calls: FileAccess[]): Pick<StageDefinition, 'kind' | 'fileInputs'> => ({
    kind: 'fake',
    fileInputs: (_params, access): Promise<FileInputs> => {
      calls.push(access);
      return Promise.resolve({ files: { data: path }, source: 'this machine' });
    },
  });

  it("reads the planner's files without locating again when they hold the key's bytes", async () => {
    const calls: FileAccess[] = [];
    const planned = { files: { data: join(dir, 'a.bin') }, source: 'planner' };
    expect(await externalFilesFor(stage(join(dir, 'a.bin'), calls), {}, planned, expected)).toEqual(planned);
    expect(calls).toEqual([]);
  });

  it("locates this machine's copy when the planner's path is not here, and accepts the same bytes", async () => {
    const calls: FileAccess[] = [];
    const planned = { files: { data: join(dir, 'elsewhere', 'a.bin') } };
    expect(await externalFilesFor(stage(join(dir, 'a.bin'), calls), {}, planned, expected)).toEqual({ files: { data: join(dir, 'a.bin') }, source: 'this machine' });
    expect(calls).toEqual(['fetch']);
  });

  it('refuses a copy whose bytes differ from what the key names, naming the file', async () => {
    const planned = { files: { data: join(dir, 'elsewhere', 'a.bin') } };
    const attempt = externalFilesFor(stage(join(dir, 'other.bin'), []), {}, planned, expected);
    await expect(attempt).rejects.toBeInstanceOf(StageInputError);
    await expect(attempt).rejects.toThrow(/data file data at .*other\.bin has sha256 .* holds different data than the one that planned the run/);
  });

  it('a stage without external files gets none', async () => {
    expect(await externalFilesFor({ kind: 'plain' }, {}, { files: {} }, {})).toEqual({ files: {} });
  });
});
