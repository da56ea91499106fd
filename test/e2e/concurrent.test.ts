/**
 * Two `pipe run` processes on one store at the same time: both succeed, and a stage they share
 * runs once (the other process waits for its artifact or finds it).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRig, type CliResult, type Rig } from './rig.js';

describe('concurrent runs on one store', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  it('two runs started together share the data stages and both exit 0', async () => {
    await rig.write(
      'shared.yaml',
      `stages:
  load: { kind: load, params: { train_limit: 3000, test_limit: 500 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: flatten } }
  train-lr: { kind: train, inputs: { data: split }, params: { model: logistic-regression, epochs: 2 } }
`,
    );
    const [a, b] = await Promise.all([rig.pipe(['run', 'shared.yaml', '--json']), rig.pipe(['run', 'shared.yaml', '--json', '--set', 'train-lr.epochs=3'])]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const ran = (r: CliResult, stage: string): boolean => rig.events(r).some((e) => e.type === 'stage-done' && e.stage === stage);
    for (const stage of ['load', 'normalize', 'flatten', 'split']) {
      // Exactly one of the two processes computed each shared stage; the other reused its artifact.
      expect([ran(a, stage), ran(b, stage)].filter(Boolean), stage).toHaveLength(1);
    }
    // The trainings differ (epochs), so each process trained its own.
    expect(ran(a, 'train-lr') && ran(b, 'train-lr')).toBe(true);
    const keysA = rig.events(a).filter((e) => e.type === 'stage-done' || e.type === 'stage-cached');
    const keysB = rig.events(b).filter((e) => e.type === 'stage-done' || e.type === 'stage-cached');
    const keyOf = (events: typeof keysA, stage: string): unknown => events.find((e) => e.stage === stage)?.['key'];
    expect(keyOf(keysA, 'split')).toBe(keyOf(keysB, 'split'));
    // Both runs' records are kept, and a third run finds everything cached.
    const again = await rig.pipe(['run', 'shared.yaml', '--json']);
    expect(rig.events(again).filter((e) => e.type === 'stage-done')).toEqual([]);
  });

  it('gc keeps what a live run is using', async () => {
    // A run lease (as a live `pipe run` writes it) naming an artifact no pipeline file references.
    const status = await rig.pipe(['status', 'shared.yaml', '--json', '--set', 'train-lr.epochs=3']);
    const key = (JSON.parse(status.stdout) as { stages: Array<{ stage: string; key: string }> }).stages.find((s) => s.stage === 'train-lr')?.key;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    await mkdir(join(rig.dir, '.pipe', 'leases', 'runs'), { recursive: true });
    const lease = join(rig.dir, '.pipe', 'leases', 'runs', 'live-run');
    const info = (pid: number): string => JSON.stringify({ pid, host: hostname(), owner: 'test', acquired_at: new Date().toISOString(), expires_at: new Date(Date.now() + 3_600_000).toISOString(), purpose: 'pipe run other.yaml', keys: [key] });
    await writeFile(lease, info(process.pid));
    // --keep-last 0: only pipeline files and live runs protect artifacts.
    const kept = await rig.pipe(['gc', 'shared.yaml', '--keep-last', '0', '--yes']);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain('1 in use by running pipe processes');
    expect((await rig.pipe(['show', key!.slice(0, 12)])).code).toBe(0);
    // Once that run is gone, its lease protects nothing.
    await writeFile(lease, info(999_999_999));
    const collected = await rig.pipe(['gc', 'shared.yaml', '--keep-last', '0', '--yes']);
    expect(collected.stdout).toMatch(/deleted 1 artifacts/);
    expect((await rig.pipe(['show', key!.slice(0, 12)])).code).not.toBe(0);
  });
});
