/**
 * A job written straight into Redis by someone other than `pipe run`: a worker runs only what its
 * key record describes, runs exec only with --allow-exec, and commits nothing for a job it refuses.
 * A real redis-server on loopback and a real `pipe worker` process.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyHash } from '../../artifacts/hash.js';
import { keyHash, type KeyRecord } from '../../artifacts/key.js';
import type { Manifest } from '../../artifacts/store.js';
import type { StageWork } from '../../runner/execute/stage-runner.js';
import { startRedis, type RedisService } from '../services/redis.js';
import { makeRig, type Rig } from './rig.js';

const PIPELINE = `name: trust
stages:
  load: { kind: load, params: { train_limit: 50, test_limit: 20 } }
  normalize: { kind: normalize, inputs: { data: load } }
`;

describe('pipe worker and jobs it did not get from pipe run', () => {
  let rig: Rig;
  let redis: RedisService;
  let worker: ChildProcess;
  let connection: Redis;
  let queue: Queue<StageWork>;
  let load: Manifest;
  let normalize: Manifest;

  const manifestOf = async (stage: string): Promise<Manifest> => {
    const listed = JSON.parse((await rig.pipe(['ls', '--json', '--store', 'shared'])).stdout) as Array<{ stage: string; dir: string }>;
    const found = listed.find((a) => a.stage === stage);
    if (!found) throw new Error(`no ${stage} in the store`);
    return JSON.parse(await readFile(join(found.dir, 'manifest.json'), 'utf8')) as Manifest;
  };
  const artifactDir = (key: string): string => join(rig.dir, 'shared', 'artifacts', key.slice(0, 2), key);
  /** Adds a job as anyone with access to Redis could, and waits (bounded) until it has failed or completed. */
  const submit = async (work: StageWork): Promise<{ state: string; reason: string; attempts: number }> => {
    const job: Job<StageWork> = await queue.add(work.stage, work, { jobId: `${work.key}-${Math.random().toString(36).slice(2)}`, attempts: 2 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const state = await job.getState();
      if (state === 'failed' || state === 'completed') {
        const fresh = await queue.getJob(job.id ?? '');
        // The worker's failure reason is JSON ({ reason, message }): read it as the run does.
        const failure = fresh?.failedReason ? (JSON.parse(fresh.failedReason) as { reason: string; message: string }) : undefined;
        return { state, reason: failure ? `${failure.reason}: ${failure.message}` : '', attempts: fresh?.attemptsMade ?? 0 };
      }
      if (Date.now() > deadline) throw new Error(`job still ${state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const jobFor = (manifest: Manifest, overrides: Partial<StageWork> = {}): StageWork => ({
    pipeline: 'trust',
    stage: manifest.stage,
    kind: manifest.kind,
    params: { method: 'scale' },
    key: manifest.key,
    keyRecord: manifest.key_record,
    inputKeys: manifest.kind === 'normalize' ? { data: { stage: 'load', key: load.key } } : {},
    environment: {},
    external: { files: {} },
    ...overrides,
  });

  beforeAll(async () => {
    rig = await makeRig();
    redis = await startRedis();
    await rig.write('p.yaml', PIPELINE);
    const local = await rig.pipe(['run', 'p.yaml', '--store', 'shared']);
    expect(local.code, local.stderr).toBe(0);
    load = await manifestOf('load');
    normalize = await manifestOf('normalize');
    worker = rig.spawnPipe(['worker', '--queue', redis.url, '--store', 'shared']);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      worker.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('slot(s), queue')) resolve();
      });
      worker.on('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
    });
    connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    queue = new Queue<StageWork>('pipe-stages', { connection });
  });
  afterAll(async () => {
    worker.kill('SIGKILL');
    await queue.close();
    connection.disconnect();
    await redis.stop();
    await rig.cleanup();
  });

  it('refuses a job that runs exec next to the key record of another kind, and runs nothing', async () => {
    const marker = join(rig.dir, 'pwned');
    const result = await submit(jobFor(normalize, { kind: 'exec', params: { cmd: ['touch', marker], outs: [] } }));
    expect(result.state).toBe('failed');
    expect(result.reason).toMatch(/job-refused.*runs exec, its key record names normalize/);
    expect(result.attempts).toBe(1);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses an exec job with a valid record of its own unless the worker was started with --allow-exec', async () => {
    const marker = join(rig.dir, 'pwned2');
    const record: KeyRecord = { format: 1, kind: 'exec', impl: 'exec@1', params: { cmd: ['touch', marker], outs: [] }, inputs: {}, files: {} };
    const result = await submit({ ...jobFor(normalize), stage: 'x', kind: 'exec', params: record.params, key: keyHash(record), keyRecord: record, inputKeys: {} });
    expect(result.state).toBe('failed');
    expect(result.reason).toMatch(/--allow-exec/);
    expect(result.attempts).toBe(1);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(artifactDir(keyHash(record)))).toBe(false);
  });

  it('refuses a job whose params differ from its key record, and commits nothing under that key', async () => {
    // The worker must compute it, not find it: drop the committed artifact first.
    await rm(artifactDir(normalize.key), { recursive: true, force: true });
    const result = await submit(jobFor(normalize, { params: { method: 'standardize' } }));
    expect(result.state).toBe('failed');
    expect(result.reason).toMatch(/params\.method: the job says "standardize", its key record "scale"/);
    expect(result.attempts).toBe(1);
    expect(existsSync(artifactDir(normalize.key))).toBe(false);
  });

  it('refuses an input key whose content is not the one the record names', async () => {
    // load's own artifact offered as the input of a record that names other content.
    const record: KeyRecord = { ...normalize.key_record, inputs: { data: normalize.content_hash } };
    const key: KeyHash = keyHash(record);
    const result = await submit(jobFor(normalize, { key, keyRecord: record }));
    expect(result.state).toBe('failed');
    expect(result.reason).toMatch(/inputs\.data: artifact .* holds content/);
    expect(existsSync(artifactDir(key))).toBe(false);
  });

  it('still runs an honest job: the same key and bytes as the local run', async () => {
    const result = await submit(jobFor(normalize));
    expect(result.state, result.reason).toBe('completed');
    expect((await manifestOf('normalize')).content_hash).toBe(normalize.content_hash);
  });
});
