import { appendFile, copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byStatus, makeRig, ROOT, type Rig } from './rig.js';

// Two independent branches (images / flat) below a shared prefix, on a slice of the real data.
const PIPELINE = (seed: number, extra = ''): string => `# test pipeline
name: branches
params:
  seed: ${seed}
stages:
  load:
    kind: load
    params: { train_limit: 3000, test_limit: 500 }
  normalize:
    kind: normalize
    inputs: { data: load }
  reshape:
    kind: reshape
    inputs: { data: normalize }
  flatten:
    kind: flatten
    inputs: { data: normalize }
  split-images:
    kind: split
    inputs: { data: reshape }
    params: { seed: 1 }
  split-flat:
    kind: split
    inputs: { data: flatten }
    params: { seed: "\${params.seed}"${extra} }
`;

describe('caching', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
    await rig.write('p.yaml', PIPELINE(7));
  });
  afterAll(async () => rig.cleanup());

  it('runs every stage once, then reuses all of them', async () => {
    const first = await rig.pipe(['run', 'p.yaml', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(byStatus(rig.events(first), 'stage-done')).toEqual(['flatten', 'load', 'normalize', 'reshape', 'split-flat', 'split-images']);
    const second = await rig.pipe(['run', 'p.yaml', '--json']);
    expect(second.code).toBe(0);
    expect(byStatus(rig.events(second), 'stage-done')).toEqual([]);
    expect(byStatus(rig.events(second), 'stage-cached')).toHaveLength(6);
  });

  it('changing one param reruns exactly that stage and its descendants', async () => {
    await rig.write('p.yaml', PIPELINE(8));
    const status = await rig.pipe(['status', 'p.yaml', '--json']);
    expect(status.code).toBe(3);
    const report = JSON.parse(status.stdout) as { stages: { stage: string; state: string; reasons?: string[] }[] };
    expect(report.stages.filter((s) => s.state === 'stale').map((s) => [s.stage, s.reasons])).toEqual([['split-flat', ['param-changed seed 7→8']]]);
    const run = await rig.pipe(['run', 'p.yaml', '--json']);
    expect(byStatus(rig.events(run), 'stage-done')).toEqual(['split-flat']);
  });

  it('YAML comments, key order and touching inputs change nothing', async () => {
    const text = PIPELINE(8).replace('name: branches', 'name: branches # a comment').replace('  reshape:\n    kind: reshape\n    inputs: { data: normalize }', '  reshape:\n    inputs: { data: normalize }\n    kind: reshape');
    await rig.write('p.yaml', text);
    const now = new Date();
    const { utimes } = await import('node:fs/promises');
    await utimes(join(process.cwd(), 'data', 'fashion-mnist', 't10k-labels-idx1-ubyte.gz'), now, now);
    const status = await rig.pipe(['status', 'p.yaml']);
    expect(status.code, status.stdout).toBe(0);
    expect(status.stdout).toContain('all 6 stages are fresh');
  });

  it('removing a param changes the key like adding one; an explicit default changes nothing', async () => {
    const keyOf = async (): Promise<string> => {
      const status = await rig.pipe(['status', 'p.yaml', '--json']);
      return (JSON.parse(status.stdout) as { stages: { stage: string; key: string }[] }).stages.find((s) => s.stage === 'split-flat')?.key ?? '';
    };
    const original = await keyOf();
    await rig.write('p.yaml', PIPELINE(8, ', validation: 0.1'));
    expect(await keyOf()).toBe(original);
    await rig.write('p.yaml', PIPELINE(8, ', validation: 0.2'));
    const added = await rig.pipe(['status', 'p.yaml', '--json']);
    expect(JSON.parse(added.stdout).stages.find((s: { stage: string }) => s.stage === 'split-flat').reasons).toEqual(['param-changed validation 0.1→0.2']);
    const changed = await keyOf();
    expect(changed).not.toBe(original);
    await rig.pipe(['run', 'p.yaml']);
    await rig.write('p.yaml', PIPELINE(8));
    expect(await keyOf()).toBe(original);
  });

  it('an upstream rerun with identical output does not rerun dependents (early cutoff)', async () => {
    await rig.write('p.yaml', PIPELINE(8));
    await rig.pipe(['run', 'p.yaml']);
    const forced = await rig.pipe(['run', 'p.yaml', '--force', 'normalize', '--json']);
    expect(byStatus(rig.events(forced), 'stage-done')).toEqual(['normalize']);
    expect(byStatus(rig.events(forced), 'stage-cached')).toEqual(['flatten', 'load', 'reshape', 'split-flat', 'split-images']);
  });

  it('a damaged artifact is detected and rebuilt', async () => {
    const show = await rig.pipe(['show', 'reshape', '--json']);
    const manifest = JSON.parse(show.stdout) as { dir: string };
    const file = join(manifest.dir, 'x_test.npy');
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    const run = await rig.pipe(['run', 'p.yaml', '--json']);
    const events = rig.events(run);
    expect(events.find((e) => e.type === 'artifact-repaired')?.['stage']).toBe('reshape');
    expect(byStatus(events, 'stage-done')).toEqual(['reshape']);
    expect(run.code).toBe(0);
  });

  it('--stage runs a target and its ancestors only', async () => {
    const run = await rig.pipe(['run', 'p.yaml', '--stage', 'reshape', '--force', 'all', '--json']);
    expect(byStatus(rig.events(run), 'stage-done')).toEqual(['load', 'normalize', 'reshape']);
  });

  it('gc lists unreferenced artifacts and deletes only with --yes', async () => {
    await rig.write('p.yaml', PIPELINE(9));
    await rig.pipe(['run', 'p.yaml']);
    await rig.pipe(['run', 'p.yaml']); // the latest run no longer uses seed-8 artifacts
    const dry = await rig.pipe(['gc', 'p.yaml']);
    expect(dry.stdout).toContain('would delete');
    expect(dry.stdout).toContain('split-flat');
    // Every finished run left an event log (what pipe ui follows live); gc removes them with --yes.
    const eventLogs = async (): Promise<string[]> => (await readdir(join(rig.dir, '.pipe', 'runs'))).filter((f) => f.endsWith('.events.ndjson'));
    const logs = await eventLogs();
    expect(logs.length).toBeGreaterThan(1);
    expect(dry.stdout).toContain(`and the event logs of ${logs.length} finished run(s)`);
    expect(await eventLogs()).toEqual(logs);
    const before = (await rig.pipe(['ls', '--json'])).stdout;
    const yes = await rig.pipe(['gc', 'p.yaml', '--yes']);
    expect(yes.stdout).toMatch(/deleted \d+ artifacts, .*, and the event logs of \d+ finished run\(s\)/);
    // Only the gc-listing commands ran since: no run's log is left, and every run record is.
    expect(await eventLogs()).toEqual([]);
    expect((await readdir(join(rig.dir, '.pipe', 'runs'))).filter((f) => f.endsWith('.json')).length).toBeGreaterThan(1);
    const after = JSON.parse((await rig.pipe(['ls', '--json'])).stdout) as unknown[];
    expect(after.length).toBeLessThan((JSON.parse(before) as unknown[]).length);
    const status = await rig.pipe(['status', 'p.yaml']);
    expect(status.code).toBe(0);
  });

  it('gc keeps every artifact of a pipeline whose data files are not here, instead of guessing', async () => {
    const own = join(rig.dir, 'own-data');
    await mkdir(own);
    for (const name of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
      await copyFile(join(ROOT, 'data', 'fashion-mnist', name), join(own, name));
    }
    const owned = (seed: number): string => PIPELINE(seed).replace('name: branches', 'name: owned').replace('params: { train_limit: 3000', 'params: { path: own-data, train_limit: 3000');
    await rig.write('owned.yaml', owned(1));
    expect((await rig.pipe(['run', 'owned.yaml'])).code).toBe(0);
    await rig.write('owned.yaml', owned(2));
    expect((await rig.pipe(['run', 'owned.yaml'])).code).toBe(0);
    // With the data here, the seed-1 split is unreferenced.
    expect((await rig.pipe(['gc', 'owned.yaml'])).stdout).toContain('split-flat');
    await rename(own, `${own}.away`);
    const away = await rig.pipe(['gc', 'owned.yaml', '--yes']);
    expect(away.code).toBe(0);
    expect(away.stdout).toContain('kept: every artifact of pipeline owned: a data file it reads is not present locally');
    expect(away.stdout).not.toContain('split-flat');
    await rename(`${own}.away`, own);
    expect((await rig.pipe(['gc', 'owned.yaml'])).stdout).toContain('split-flat');
  });

  it('run records are append-only files, one per run', async () => {
    // Run records only: beside each, the run's event log (<id>.events.ndjson) that pipe ui follows.
    const runs = (await readdir(join(rig.dir, '.pipe', 'runs'))).filter((n) => n.endsWith('.json'));
    expect(runs.length).toBeGreaterThanOrEqual(8);
    const record = JSON.parse(await readFile(join(rig.dir, '.pipe', 'runs', runs.sort().at(-1) as string), 'utf8')) as { stages: Record<string, { status: string }> };
    expect(Object.keys(record.stages)).toHaveLength(6);
    await appendFile(join(rig.dir, '.pipe', 'runs', 'garbage.json'), '{not json');
    expect((await rig.pipe(['status', 'p.yaml'])).code).toBe(0);
    await rm(join(rig.dir, '.pipe', 'runs', 'garbage.json'));
  });
});
