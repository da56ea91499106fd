/**
 * Inspection verbs are side-effect free: on a populated store made read-only, and on a store path
 * that does not exist, status/ls/show/dag/config render/compare/best change nothing in the store and
 * create nothing under HOME or the XDG cache. (Tests run as root, where chmod does not stop writes,
 * so the store is compared file by file, sizes and mtimes, before and after.)
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRig, type Rig } from './rig.js';

const PIPELINE = `name: inspect
stages:
  load: { kind: load, params: { train_limit: 600, test_limit: 100 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split:
    kind: split
    inputs: { data: flatten }
    matrix: { seed: [1, 2] }
`;

/** Every entry under `dir` with its size and mtime (directories too: a new file changes its dir's mtime). */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await stat(path);
    out.push(`${path} ${info.isDirectory() ? 'dir' : String(info.size)} ${String(info.mtimeMs)}`);
    if (info.isDirectory()) for (const name of (await readdir(path)).sort()) await walk(join(path, name));
  };
  await walk(dir);
  return out;
}

const VERBS: readonly (readonly string[])[] = [
  ['status', 'p.yaml'],
  ['status', 'p.yaml', '--json'],
  ['ls'],
  ['dag', 'p.yaml'],
  ['config', 'render', 'p.yaml'],
  ['compare', 'p.yaml'],
];

describe('side-effect-free inspection', () => {
  let rig: Rig;
  let home: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    rig = await makeRig();
    await rig.write('p.yaml', PIPELINE);
    // The network is off for inspection: any fetch ends the process with a telltale exit code.
    const offline = await rig.write('offline.mjs', "globalThis.fetch = () => { process.stderr.write('tried the network\\n'); process.exit(99); };\n");
    home = join(rig.dir, 'home');
    await mkdir(home);
    env = { HOME: home, XDG_CACHE_HOME: join(home, '.cache'), NODE_OPTIONS: `--import=${offline}` };
  });
  afterAll(async () => {
    if (existsSync(join(rig.dir, '.pipe'))) execFileSync('chmod', ['-R', 'u+w', join(rig.dir, '.pipe')]);
    await rig.cleanup();
  });

  it('works offline on a fresh checkout with no store, and creates none', async () => {
    const result = await rig.pipe(['status', 'p.yaml', '--store', 'missing'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/load\s+stale\s+\S+\s+never-run/);
    for (const args of VERBS) {
      const other = await rig.pipe([...args, '--store', 'missing'], { env });
      expect(other.stderr, args.join(' ')).toBe('');
      expect([0, 3], args.join(' ')).toContain(other.code);
    }
    expect(existsSync(join(rig.dir, 'missing'))).toBe(false);
    expect(await readdir(home)).toEqual([]);
  });

  it('changes nothing in a populated, read-only store', async () => {
    const run = await rig.pipe(['run', 'p.yaml']);
    expect(run.code, run.stderr).toBe(0);
    const store = join(rig.dir, '.pipe');
    execFileSync('chmod', ['-R', 'a-w', store]);
    const before = await snapshot(store);
    for (const args of [...VERBS, ['show', 'load'], ['best', 'p.yaml', '--metric', 'train_count', '--max']]) {
      const result = await rig.pipe(args, { env });
      expect(result.stderr, args.join(' ')).toBe('');
      expect(result.code, args.join(' ')).toBe(0);
    }
    const status = await rig.pipe(['status', 'p.yaml'], { env });
    expect(status.stdout).toContain('all 5 stages are fresh');
    const compare = await rig.pipe(['compare', 'p.yaml'], { env });
    expect(compare.stdout).toMatch(/split\[seed=1\]\s+done/);
    expect(await snapshot(store)).toEqual(before);
    expect(await readdir(home)).toEqual([]);
  });
});
