/**
 * exec on a queue worker, the case its environment allowlist exists for: the `pipe worker` process
 * holds the shared cache's write credentials (AWS_* for a real s3rver remote, PIPE_REMOTE,
 * PIPE_STORE), the queue's password (a real redis-server with requirepass, PIPE_QUEUE) and an
 * unrelated secret, and an exec stage that dumps its environment must see none of them. Also: a
 * failing script on a worker is the user's error, reported as such and not retried.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisService } from '../services/redis.js';
import { startS3, type S3Service } from '../services/s3.js';
import { makeRig, type Rig } from './rig.js';

const ENV_PIPELINE = `stages:
  first:
    kind: exec
    params: { cmd: [sh, -c, 'echo x > "$PIPE_OUT/x.txt"'], outs: [x.txt] }
  dump:
    kind: exec
    inputs: { data: first }
    params:
      cmd: [sh, -c, 'env > "$PIPE_OUT/env.txt"']
      env: { STAGE_SETTING: "from the stage" }
      outs: [env.txt]
`;

const FAIL_PIPELINE = `stages:
  bad: { kind: exec, params: { cmd: [sh, -c, 'echo working; echo "the disk is on fire" >&2; exit 3'] } }
`;

describe('exec stages on a worker that holds secrets', () => {
  let rig: Rig;
  let redis: RedisService;
  let s3: S3Service;
  let worker: ChildProcess;
  let workerOut = '';
  const token = randomBytes(12).toString('hex');
  const password = randomBytes(12).toString('hex');

  beforeAll(async () => {
    rig = await makeRig();
    [redis, s3] = await Promise.all([startRedis({ password }), startS3()]);
    await rig.write('env.yaml', ENV_PIPELINE);
    await rig.write('fail.yaml', FAIL_PIPELINE);
    // Everything through the environment, as an operator would configure a worker; exec allowed by flag.
    worker = rig.spawnPipe(['worker', '--allow-exec'], { ...s3.env, PIPE_QUEUE: redis.url, PIPE_REMOTE: `s3://${s3.bucket}/team`, PIPE_STORE: 'shared', SECRET_TOKEN: token });
    await new Promise<void>((resolve, reject) => {
      worker.stdout?.on('data', (d: Buffer) => {
        workerOut += d.toString();
        if (workerOut.includes('slot(s), queue')) resolve();
      });
      worker.on('exit', (code) => reject(new Error(`worker exited with ${code}: ${workerOut}`)));
    });
  });
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await Promise.all([redis?.stop(), s3?.stop()]);
    await rig?.cleanup();
  });

  it("the command sees PATH, HOME, its env: and pipe's own variables, and none of the worker's secrets", async () => {
    expect(redis.url).toContain(`:${password}@`);
    const run = await rig.pipe(['run', 'env.yaml', '--json', '--queue', redis.url, '--store', 'shared']);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const done = rig.events(run).find((e) => e.type === 'stage-done' && e['stage'] === 'dump');
    expect(typeof done?.['worker'], 'the stage ran on the worker').toBe('string');
    // Neither the run's notices nor the worker's log print the queue's password.
    expect(run.stdout).toContain('stages run on the workers of redis://:***@');
    expect(run.stdout + run.stderr + workerOut).not.toContain(password);
    const key = String(done?.['key']);
    const dumped = await readFile(join(rig.dir, 'shared', 'artifacts', key.slice(0, 2), key, 'env.txt'), 'utf8');
    const names = dumped.split('\n').map((line) => line.split('=')[0] ?? '');
    expect(names).toEqual(expect.arrayContaining(['PATH', 'HOME', 'STAGE_SETTING', 'PIPE_OUT', 'PIPE_STAGE', 'PIPE_INPUT_DATA']));
    expect(dumped).toContain('STAGE_SETTING=from the stage');
    expect(dumped).toContain(`PATH=${process.env['PATH'] ?? ''}\n`);
    expect(names.filter((n) => n.startsWith('AWS_'))).toEqual([]);
    expect(names.filter((n) => n.startsWith('PIPE_') && !['PIPE_OUT', 'PIPE_STAGE', 'PIPE_INPUT_DATA'].includes(n))).toEqual([]);
    expect(names).not.toContain('SECRET_TOKEN');
    for (const secret of [token, password, 'S3RVER', 'redis://', 's3://']) expect(dumped, secret).not.toContain(secret);
  });

  it('a script that exits 3 on the worker: one attempt, the exit code and stderr tail, no "internal error"', async () => {
    const run = await rig.pipe(['run', 'fail.yaml', '--queue', redis.url, '--store', 'shared']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAILED\s+bad\s+stage "bad": command failed with exit code 3; stderr: the disk is on fire/);
    expect(run.stdout + run.stderr).not.toMatch(/internal error|please report|\n\s+at /);
    // The worker printed its FAILED line before BullMQ told the run; a retry would have started again first.
    expect(workerOut).toMatch(/FAILED\s+bad .*exit code 3/);
    expect(workerOut.match(/start\s+bad /g)).toHaveLength(1);
  });
});
