/** What a `pipe worker` agrees to run: exec and plugins only when told, users' code only from --repo with the key's bytes. */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../artifacts/hash.js';
import { keyHash, type KeyRecord } from '../../artifacts/key.js';
import type { StageWork } from '../../runner/execute/stage-runner.js';
import { JobRefusedError } from '../../runner/execute/work-check.js';
import { admitJob, type WorkerPolicy } from '../../runner/queue/policy.js';

const SCRIPT = 'echo hi > "$PIPE_OUT/x.txt"\n';

function job(repo: string, overrides: Partial<StageWork> & { code?: Record<string, string> } = {}): StageWork {
  const { code, ...rest } = overrides;
  const record: KeyRecord = { format: 1, kind: rest.kind ?? 'exec', impl: 'exec@1', params: {}, inputs: {}, files: {}, ...(code ? { code } : {}) };
  return {
    pipeline: 'p',
    stage: 's',
    kind: record.kind,
    params: {},
    key: keyHash(record),
    keyRecord: record,
    inputKeys: {},
    environment: {},
    external: { files: {} },
    workDir: repo,
    ...rest,
  };
}

function refused(work: StageWork, policy: WorkerPolicy): JobRefusedError {
  try {
    admitJob(work, policy);
  } catch (error) {
    if (error instanceof JobRefusedError) return error;
    throw error;
  }
  throw new Error('admitted');
}

describe('admitJob', () => {
  let repo: string;
  let outside: string;
  const open = (): WorkerPolicy => ({ repo, allowExec: true, allowPlugins: true });
  beforeAll(async () => {
    repo = await mkdtemp(join(tmpdir(), 'pipe-repo-'));
    outside = await mkdtemp(join(tmpdir(), 'pipe-outside-'));
    await mkdir(join(repo, 'scripts'));
    await writeFile(join(repo, 'scripts', 'run.sh'), SCRIPT);
    await writeFile(join(repo, 'plugin.ts'), 'export const x = 1;\n');
    await writeFile(join(outside, 'evil.ts'), 'export const x = 2;\n');
    // A link inside the repository that leads out of it.
    await symlink(outside, join(repo, 'escape'));
  });
  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('refuses exec without --allow-exec and plugin code without --allow-plugins, naming the flag', () => {
    expect(refused(job(repo), { repo, allowExec: false, allowPlugins: true }).message).toMatch(/--allow-exec/);
    expect(refused(job(repo, { kind: 'normalize', plugins: [join(repo, 'plugin.ts')] }), { repo, allowExec: true, allowPlugins: false }).message).toMatch(/--allow-plugins/);
    expect(refused(job(repo, { kind: 'greet' }), { repo, allowExec: true, allowPlugins: false }).message).toMatch(/kind greet.*--allow-plugins/);
    // Built-in stages need neither flag.
    expect(admitJob(job(repo, { kind: 'normalize' }), { repo, allowExec: false, allowPlugins: false }).workDir).toBe(repo);
  });

  it("drops the planner's data file paths: the worker locates its own and checks their hashes", () => {
    const admitted = admitJob(job(repo, { kind: 'load', external: { files: { train_images: '/etc/passwd' }, source: 'planner' } }), open());
    expect(admitted.external).toEqual({ files: {} });
  });

  it('refuses plugins and folders outside --repo, also through a link', () => {
    expect(refused(job(repo, { kind: 'normalize', plugins: [join(outside, 'evil.ts')] }), open()).field).toBe('plugins');
    expect(refused(job(repo, { kind: 'normalize', plugins: [join(repo, 'escape', 'evil.ts')] }), open()).field).toBe('plugins');
    expect(refused(job(repo, { kind: 'normalize', plugins: ['plugin.ts'] }), open()).field).toBe('plugins');
    expect(refused(job(repo, { workDir: outside }), open()).field).toBe('workDir');
    expect(refused(job(repo, { workDir: join(repo, '..') }), open()).field).toBe('workDir');
    expect(admitJob(job(repo, { workDir: join(repo, 'scripts') }), open()).workDir).toBe(join(repo, 'scripts'));
  });

  it("runs users' code only when this checkout holds the bytes the key names", () => {
    const good = { 'scripts/run.sh': sha256(SCRIPT) };
    expect(admitJob(job(repo, { code: good }), open()).kind).toBe('exec');
    expect(refused(job(repo, { code: { 'scripts/run.sh': sha256('rm -rf ~\n') } }), open()).message).toMatch(/code\.scripts\/run\.sh: different/);
    expect(refused(job(repo, { code: { 'scripts/gone.sh': sha256(SCRIPT) } }), open()).message).toMatch(/missing/);
    expect(refused(job(repo, { code: { '../x.sh': sha256(SCRIPT) } }), open()).message).toMatch(/outside this worker's --repo/);
    expect(refused(job(repo, { code: { [join(outside, 'evil.ts')]: sha256('export const x = 2;\n') } }), open()).message).toMatch(/outside/);
    expect(refused(job(repo, { code: { 'npm:left-pad': '1.3.0' } }), open()).message).toMatch(/left-pad 1\.3\.0.*has none/);
  });
});
