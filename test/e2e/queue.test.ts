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
import { smallModelStages } from './small-models.js';

/**
 * Every kind of stage a worker must derive from its key record (data stages, a network, a classical
 * model, evaluate, Grad-CAM, robustness, an ensemble, the report) on few rows: this checks the
 * queue's plumbing, not accuracy. (test/unit/work-check.test.ts derives every stage of tiny.yaml.)
 */
const PIPELINE = `name: queued
defaults:
  robustness: { photos: 4, examples: 2 }
stages:
${smallModelStages(600)}  robustness-svm: { kind: robustness, inputs: { model: train-svm, data: split-flat } }
  ensemble: { kind: ensemble, inputs: { models: [train-cnn, train-svm], data: split-images }, params: { weighting: validation } }
  report:
    kind: report
    inputs: { inspect: inspect, data: split-images, trainings: [train-cnn, train-svm], evaluations: [evaluate-cnn, evaluate-svm], explanations: [explain-cnn], robustness: [robustness-svm] }
`;

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

  let file: string;
  beforeAll(async () => {
    rig = await makeRig();
    redis = await startRedis();
    file = await rig.write('queued.yaml', PIPELINE);
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await redis.stop();
    await rig.cleanup();
  });

  it('three workers run every kind of stage: each executed by a worker, artifacts identical to a local run', async () => {
    await Promise.all([startWorker(), startWorker(), startWorker()]);
    const listed = JSON.parse((await rig.pipe(['workers', '--queue', redis.url, '--json'])).stdout) as { workers: Array<{ worker: string }> };
    expect(listed.workers).toHaveLength(3);
    const run = await rig.pipe(['run', file, '--json', '--queue', redis.url, '--store', 'shared']);
    expect(run.code, run.stderr).toBe(0);
    const done = rig.events(run).filter((e) => e.type === 'stage-done');
    expect(done.every((e) => typeof e['worker'] === 'string'), 'every stage names its worker').toBe(true);
    expect(new Set(done.map((e) => e['worker'])).size).toBeGreaterThan(1);
    const local = await rig.pipe(['run', file, '--json', '--store', 'local']);
    expect(local.code, local.stderr).toBe(0);
    // The same stages ran (all 15), and gave the same bytes.
    expect(done.map((e) => String(e['stage'])).sort()).toEqual(byStatus(rig.events(local), 'stage-done'));
    expect(done).toHaveLength(15);
    expect(await contentHashes('shared')).toEqual(await contentHashes('local'));
  }, 300_000);

  it('a worker SIGKILLed during training: the stalled job goes to another worker and the run still succeeds', async () => {
    // A changed param, so the CNN trains again (long enough to be killed mid-way) on the three
    // workers of the first test.
    const set = ['--set', 'train-cnn.epochs=4'];
    const child = rig.spawnPipe(['run', file, '--json', '--queue', redis.url, '--store', 'shared', ...set]);
    let out = '';
    let killed: { stage: string; worker: string } | undefined;
    const code = await new Promise<number | null>((resolve) => {
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (killed) return;
        for (const line of out.split('\n')) {
          if (!line.startsWith('{')) continue;
          const e = JSON.parse(line) as { type: string; stage?: string; worker?: string; done?: number };
          // Kill whichever worker is mid-way through the CNN training (progress reported).
          if (e.type !== 'stage-progress' || e.stage !== 'train-cnn' || !e.worker || (e.done ?? 0) === 0) continue;
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
    const finisher = events.find((e) => e.type === 'stage-done' && e.stage === 'train-cnn')?.worker;
    expect(finisher).toBeDefined();
    expect(finisher).not.toBe(killed?.worker);
    expect(byStatus(events, 'stage-failed')).toEqual([]);
    // The artifacts equal a local run of the same pipeline.
    const local = await rig.pipe(['run', file, '--json', '--store', 'local', ...set]);
    expect(local.code, local.stderr).toBe(0);
    expect(await contentHashes('shared')).toEqual(await contentHashes('local'));
  });

  it('a worker or run that cannot reach Redis says so, naming the URL, with no stack trace', async () => {
    const worker = await rig.pipe(['worker', '--queue', 'redis://127.0.0.1:9']);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain('cannot reach Redis at redis://127.0.0.1:9');
    expect(worker.stderr).not.toMatch(/\n\s+at /);
    const run = await rig.pipe(['run', file, '--queue', 'redis://127.0.0.1:9']);
    expect(run.stderr).toContain('cannot reach Redis at redis://127.0.0.1:9');
  });
});
