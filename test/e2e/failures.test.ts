import { readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byStatus, makeRig, type Rig } from './rig.js';

describe('failures, interruption and locking', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  it('a failing stage skips its dependents while independent branches finish', async () => {
    await rig.write(
      'fail.yaml',
      `stages:
  load: { kind: load, params: { train_limit: 1000, test_limit: 100 } }
  normalize: { kind: normalize, inputs: { data: load } }
  split-once: { kind: split, inputs: { data: normalize } }
  split-twice: { kind: split, inputs: { data: split-once } }
  after-bad: { kind: flatten, inputs: { data: split-twice } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split-flat: { kind: split, inputs: { data: flatten } }
`,
    );
    const result = await rig.pipe(['run', 'fail.yaml', '--json']);
    expect(result.code).toBe(1);
    const events = rig.events(result);
    expect(byStatus(events, 'stage-failed')).toEqual(['split-twice']);
    expect(byStatus(events, 'stage-skipped')).toEqual(['after-bad']);
    expect(byStatus(events, 'stage-done')).toEqual(['flatten', 'load', 'normalize', 'split-flat', 'split-once']);
    const failed = events.find((e) => e.type === 'stage-failed') as unknown as { error: { message: string; stack?: string } };
    expect(failed.error.message).toContain('already split');
    expect(failed.error.stack).toBeUndefined();
    // Nothing half-written is left behind.
    expect(await readdir(join(rig.dir, '.pipe', 'tmp'))).toEqual([]);
    const text = await rig.pipe(['run', 'fail.yaml']);
    expect(text.stdout).toMatch(/0 ran, 5 cached, 1 failed, 1 skipped/);
  });

  it('SIGKILL mid-stage, then a rerun completes without manual cleanup', async () => {
    // Full-size data so that normalize is still writing when the kill lands.
    await rig.write('kill.yaml', 'stages:\n  load: { kind: load }\n  normalize: { kind: normalize, inputs: { data: load } }\n  reshape: { kind: reshape, inputs: { data: normalize } }\n');
    const child = rig.spawnPipe(['run', 'kill.yaml', '--json']);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('"type":"stage-start","stage":"normalize"')) {
          setTimeout(() => child.kill('SIGKILL'), 300);
        }
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    expect(child.signalCode).toBe('SIGKILL');
    const leftovers = await readdir(join(rig.dir, '.pipe', 'tmp'));
    expect(leftovers.length).toBeGreaterThan(0);
    const rerun = await rig.pipe(['run', 'kill.yaml', '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    const events = rig.events(rerun);
    const notices = events.filter((e) => e.type === 'notice').map((e) => String(e['message']));
    // The killed run's lease on normalize's key names a process that is gone: taken over at once.
    expect(notices.some((n) => n.includes('normalize: took over from pid') && n.includes('which is gone'))).toBe(true);
    expect(notices.some((n) => n.includes('unfinished artifact'))).toBe(true);
    expect(byStatus(events, 'stage-cached')).toEqual(['load']);
    expect(byStatus(events, 'stage-done')).toEqual(['normalize', 'reshape']);
    expect((await rig.pipe(['status', 'kill.yaml'])).code).toBe(0);
  });

  it('Ctrl-C stops running stages, keeps finished ones and exits 130', async () => {
    await rig.write('int.yaml', 'stages:\n  load: { kind: load }\n  normalize: { kind: normalize, inputs: { data: load }, params: { method: standardize } }\n  flatten: { kind: flatten, inputs: { data: normalize } }\n');
    const child = rig.spawnPipe(['run', 'int.yaml', '--json']);
    let out = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stdout?.on('data', (d: Buffer) => {
        const before = out;
        out += d.toString();
        if (!before.includes('"type":"stage-start","stage":"normalize"') && out.includes('"type":"stage-start","stage":"normalize"')) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code).toBe(130);
    const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; stage?: string; interrupted?: boolean });
    expect(events.find((e) => e.type === 'run-end')?.interrupted).toBe(true);
    expect(events.filter((e) => e.type === 'stage-done').map((e) => e.stage)).not.toContain('flatten');
    expect(await readdir(join(rig.dir, '.pipe', 'tmp'))).toEqual([]);
    expect((await rig.pipe(['run', 'int.yaml'])).code).toBe(0);
  });

  it('a stage whose key another live process holds waits for it, and takes over once that process is gone', async () => {
    await rig.write('held.yaml', 'stages:\n  load: { kind: load, params: { train_limit: 500, test_limit: 100 } }\n  flatten: { kind: flatten, inputs: { data: load } }\n');
    const status = await rig.pipe(['status', 'held.yaml', '--json']);
    const key = (JSON.parse(status.stdout) as { stages: Array<{ stage: string; key?: string }> }).stages.find((s) => s.stage === 'load')?.key;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const leasePath = join(rig.dir, '.pipe', 'leases', 'keys', key!);
    const lease = (pid: number): string =>
      JSON.stringify({ pid, host: hostname(), owner: 'test', acquired_at: new Date().toISOString(), expires_at: new Date(Date.now() + 3_600_000).toISOString(), purpose: 'other:load' });
    // This test process is alive: its lease must be respected, not broken.
    await writeFile(leasePath, lease(process.pid));
    const child = rig.spawnPipe(['run', 'held.yaml', '--json']);
    let out = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stdout?.on('data', (d: Buffer) => {
        const before = out;
        out += d.toString();
        // Once the run says it waits, the holder "dies": the run must notice and compute load itself.
        if (!before.includes('"type":"stage-waiting"') && out.includes('"type":"stage-waiting"')) void writeFile(leasePath, lease(999_999_999));
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code).toBe(0);
    const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; stage?: string; holder?: string; message?: string });
    expect(events.find((e) => e.type === 'stage-waiting')?.holder).toContain(`pid ${process.pid}`);
    expect(events.filter((e) => e.type === 'stage-done').map((e) => e.stage)).toEqual(['load', 'flatten']);
    expect(events.some((e) => e.type === 'notice' && e.message?.includes('which is gone'))).toBe(true);
  });
});
