/**
 * Golden diagnostics: every test/fixtures/bad/NAME.yaml is run through the real CLI (`pipe run`),
 * and its stderr must equal NAME.stderr exactly, underline included, with exit code 2, nothing on
 * stdout and no store created. A fixture may start with `# golden-args: …` (extra CLI arguments) or
 * `# golden-env: K=V` lines. After a deliberate change of wording, rewrite the expected files with
 * PIPE_UPDATE_GOLDEN=1 npx vitest run test/e2e/golden.test.ts, and review the diff.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from './rig.js';

const DIR = join(ROOT, 'test', 'fixtures', 'bad');
const UPDATE = process.env['PIPE_UPDATE_GOLDEN'] === '1';
const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

function header(text: string, tag: string): string[] {
  const prefix = `# ${tag}:`;
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length).trim());
}

function runCli(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env, PIPE_JOBS: '2' };
  for (const key of Object.keys(base)) if (key.startsWith('PIPE_') && key !== 'PIPE_JOBS') delete base[key];
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: DIR, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('golden diagnostics (test/fixtures/bad)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'pipe-golden-'));
  });
  afterAll(async () => rm(tmp, { recursive: true, force: true }));

  it('has fixtures, each with its expected text', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(15);
    if (!UPDATE) for (const f of fixtures) expect(existsSync(join(DIR, f.replace(/\.yaml$/, '.stderr'))), f).toBe(true);
  });

  it.each(fixtures)('%s', async (fixture) => {
    const text = readFileSync(join(DIR, fixture), 'utf8');
    const args = header(text, 'golden-args').flatMap((a) => a.split(' '));
    const env = Object.fromEntries(header(text, 'golden-env').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const store = join(tmp, fixture);
    const result = await runCli(['run', fixture, '--store', store, ...args], env);
    const expectedFile = join(DIR, fixture.replace(/\.yaml$/, '.stderr'));
    if (UPDATE) writeFileSync(expectedFile, result.stderr);
    expect(result.stderr).toBe(readFileSync(expectedFile, 'utf8'));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(existsSync(store), 'nothing is written to the store').toBe(false);
  });
});
