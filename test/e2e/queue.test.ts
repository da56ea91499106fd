/**
 * Distributed execution on BullMQ: a real redis-server on loopback, `pipe worker` processes and a
 * `pipe run --queue` sharing one store directory (as machines sharing NFS would).
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisService } from '../services/redis.js';
import { byStatus, makeRig, type Rig } from './rig.js';
import { copySharedTiny, sharedTinyStore, TINY } from './tiny-store.js';

describe('pipe run --queue with pipe worker processes', () => {
  let rig: Rig;
  let redis: RedisService;
  const workers: ChildProcess[] = [];
  const startWorker = (): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      // A short BullMQ lock, so a killed worker's job is handed over in seconds, not half a minute.
      const child = rig.spawnPipe(['worker', '--queue', redis.url, '--store', 'shared'], { PIPE_WORKER_LOCK_MS: '2000' });
      workers.push(child);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('slot(s), queue')) resolve(child);
      });
      child.on('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
    });
  /** Every artifact in a store as "stage content-hash", sorted (a store may hold several per stage). */
  const contentHashes = async (store: string): Promise<string[]> => {
    const listed = JSON.parse((await rig.pipe(['ls', '--json', '--store', store])).stdout) as Array<{ stage: string; pipeline: string; dir: string }>;
    const out: string[] = [];
    for (const a of listed) out.push(`${a.stage} ${(JSON.parse(await readFile(join(a.dir, 'manifest.json'), 'utf8')) as { content_hash: string }).content_hash}`);
    return out.sort();
  };

  beforeAll(async () => {
    rig = await makeRig();
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await redis.stop();
    await rig.cleanup();
  });

  it('three workers run tiny.yaml: every stage executed by a worker, artifacts identical to a local run', async () => {
    await Promise.all([startWorker(), startWorker(), startWorker()]);
    const listed = JSON.parse((await rig.pipe(['workers', '--queue', redis.url, '--json'])).stdout) as { workers: Array<{ worker: string }> };
    expect(listed.workers).toHaveLength(3);
    const run = await rig.pipe(['run', TINY, '--json', '--queue', redis.url, '--store', 'shared']);
    expect(run.code, run.stderr).toBe(0);
    const done = rig.events(run).filter((e) => e.type === 'stage-done');
    expect(done.every((e) => typeof e['worker'] === 'string'), 'every stage names its worker').toBe(true);
    expect(new Set(done.map((e) => e['worker'])).size).toBeGreaterThan(1);
    // The same stages ran as in a local run (the session's shared tiny store), with the same bytes.
    const local = await sharedTinyStore();
    expect(done.map((e) => String(e['stage'])).sort()).toEqual(byStatus(rig.events(local.build), 'stage-done'));
    expect(await contentHashes('shared')).toEqual(await contentHashes(local.store));
    // A whole tiny.yaml run on 3 workers sharing 2 cores (and the shared store's build if this file
    // asks first): over the default 120 s on a slow window rather than on a bug.
  }, 600_000);

  it('a worker SIGKILLed during training: the stalled job goes to another worker and the run still succeeds', async () => {
    // A changed param, so the ResNet trains again on the three workers of the first test.
    const set = ['--set', 'train-resnet.epochs=2'];
    const child = rig.spawnPipe(['run', TINY, '--json', '--queue', redis.url, '--store', 'shared', ...set]);
    let out = '';
    let killed: { stage: string; worker: string } | undefined;
    const code = await new Promise<number | null>((resolve) => {
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (killed) return;
        for (const line of out.split('\n')) {
          if (!line.startsWith('{')) continue;
          const e = JSON.parse(line) as { type: string; stage?: string; worker?: string; done?: number };
          // Kill whichever worker is mid-way through the ResNet training (progress reported).
          if (e.type !== 'stage-progress' || e.stage !== 'train-resnet' || !e.worker || (e.done ?? 0) === 0) continue;
          const pid = Number(e.worker.split(':').pop());
          const victim = workers.find((w) => w.pid === pid);
          if (!victim) continue;
          killed = { stage: e.stage, worker: e.worker };
          victim.kill('SIGKILL');
          break;
        }
      });
      child.on('exit', (c) => resolve(c));
    });
    const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; stage?: string; worker?: string });
    expect(code, out.slice(-2000)).toBe(0);
    expect(killed, 'a worker was killed mid-training').toBeDefined();
    const finisher = events.find((e) => e.type === 'stage-done' && e.stage === 'train-resnet')?.worker;
    expect(finisher).toBeDefined();
    expect(finisher).not.toBe(killed?.worker);
    expect(byStatus(events, 'stage-failed')).toEqual([]);
    // The artifacts equal a local run of the same pipeline (on a copy of the shared tiny store, so
    // only the changed ResNet branch is computed here).
    await copySharedTiny(join(rig.dir, 'local-copy'));
    const local = await rig.pipe(['run', TINY, '--json', '--store', 'local-copy/.pipe', ...set]);
    expect(local.code, local.stderr).toBe(0);
    expect(await contentHashes('shared')).toEqual(await contentHashes('local-copy/.pipe'));
  });

  it('a worker or run that cannot reach Redis says so, naming the URL, with no stack trace', async () => {
    const worker = await rig.pipe(['worker', '--queue', 'redis://127.0.0.1:9']);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain('cannot reach Redis at redis://127.0.0.1:9');
    expect(worker.stderr).not.toMatch(/\n\s+at /);
    const run = await rig.pipe(['run', TINY, '--queue', 'redis://127.0.0.1:9']);
    expect(run.stderr).toContain('cannot reach Redis at redis://127.0.0.1:9');
  });
});
