/**
 * Two machines simulated as two local stores sharing one S3 remote (s3rver on loopback): the
 * second runs the whole pipeline with nothing executed, every artifact downloaded and verified.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type S3Service } from '../services/s3.js';
import { byStatus, makeRig, ROOT, type Rig } from './rig.js';

describe('a shared S3 remote cache', () => {
  let rig: Rig;
  let s3: S3Service;
  beforeAll(async () => {
    rig = await makeRig();
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3.stop();
    await rig.cleanup();
  });

  it('machine B runs tiny.yaml with 0 stages executed after machine A ran it', async () => {
    const file = join(ROOT, 'pipelines', 'tiny.yaml');
    const remote = `s3://${s3.bucket}/team`;
    const a = await rig.pipe(['run', file, '--json', '--store', 'machine-a', '--remote', remote], { env: s3.env });
    expect(a.code, a.stderr).toBe(0);
    const ranOnA = byStatus(rig.events(a), 'stage-done');
    expect(ranOnA.length).toBeGreaterThan(10);
    const b = await rig.pipe(['run', file, '--json', '--store', 'machine-b', '--remote', remote, '--remote-read-only'], { env: s3.env });
    expect(b.code, b.stderr).toBe(0);
    const events = rig.events(b);
    expect(byStatus(events, 'stage-done')).toEqual([]);
    const fromRemote = events.filter((e) => e.type === 'stage-cached' && e['origin'] === 'remote').map((e) => String(e['stage'])).sort();
    expect(fromRemote).toEqual(ranOnA);
    // B's report is published from the downloaded artifact, with A's timings filled in.
    const status = await rig.pipe(['status', file, '--store', 'machine-b']);
    expect(status.code, status.stdout).toBe(0);
  });

  it('a remote that cannot be reached fails at once with the URL, no stack trace', async () => {
    const result = await rig.pipe(['run', join(ROOT, 'pipelines', 'tiny.yaml'), '--remote', 's3://missing-bucket/x'], { env: { ...s3.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('remote s3://missing-bucket/x: reaching the bucket failed');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
