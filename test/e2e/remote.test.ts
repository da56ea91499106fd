/**
 * Two machines simulated as two local stores sharing one S3 remote (s3rver on loopback): the
 * second runs the whole pipeline with nothing executed, every artifact downloaded and verified.
 */
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentHash, type KeyHash } from '../../artifacts/hash.js';
import type { Manifest } from '../../artifacts/store.js';
import { startS3, type S3Service } from '../services/s3.js';
import { byStatus, makeRig, ROOT, type Rig } from './rig.js';
import { smallModelStages } from './small-models.js';

const SMALL = `name: small
stages:
  load: { kind: load, params: { train_limit: 600, test_limit: 100 } }
  normalize: { kind: normalize, inputs: { data: load } }
  reshape: { kind: reshape, inputs: { data: normalize } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split-flat: { kind: split, inputs: { data: flatten }, params: { validation: 0.2 } }
  split-images: { kind: split, inputs: { data: reshape }, params: { validation: 0.2 } }
`;

/** Every artifact type the remote carries (data, models, evaluations, Grad-CAM, a report) on few rows:
 * this checks the remote's plumbing, not accuracy (tiny.yaml's models are checked elsewhere). */
const MODELS = `name: small-models
stages:
${smallModelStages(300)}  report:
    kind: report
    inputs: { inspect: inspect, data: split-images, trainings: [train-cnn, train-svm], evaluations: [evaluate-cnn, evaluate-svm], explanations: [explain-cnn] }
`;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

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

  it('machine B runs a pipeline of data, models, Grad-CAM and a report with 0 stages executed after machine A ran it', async () => {
    const file = await rig.write('small-models.yaml', MODELS);
    const remote = `s3://${s3.bucket}/team`;
    const a = await rig.pipe(['run', file, '--json', '--store', 'machine-a', '--remote', remote], { env: s3.env });
    expect(a.code, a.stderr).toBe(0);
    const ranOnA = byStatus(rig.events(a), 'stage-done');
    expect(ranOnA).toHaveLength(13);
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

  describe('hostile or damaged remote entries', () => {
    const prefix = 'hostile';
    let client: S3Client;
    let keys: Map<string, KeyHash>;
    const id = randomBytes(6).toString('hex');
    const absolute = `/tmp/pipe-escape-${id}`;
    const objectKey = (key: KeyHash, ...parts: string[]): string => [prefix, 'artifacts', key, ...parts].join('/');
    const remoteArgs = (store: string, readOnly: boolean): string[] => ['run', 'small.yaml', '--json', '--store', store, '--remote', `s3://${s3.bucket}/${prefix}`, ...(readOnly ? ['--remote-read-only'] : [])];

    async function readManifest(key: KeyHash): Promise<Manifest> {
      const out = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: objectKey(key, 'manifest.json') }));
      return JSON.parse((await out.Body?.transformToString('utf8')) ?? '') as Manifest;
    }
    /** Rewrites an entry's manifest with extra file names, its content hash made consistent, as an attacker would. */
    async function plantNames(stage: string, names: readonly string[]): Promise<void> {
      const key = keys.get(stage)!;
      const manifest = await readManifest(key);
      const files = { ...manifest.files };
      for (const name of names) files[name] = { sha256: 'a'.repeat(64), bytes: 4 };
      const planted = { ...manifest, files, content_hash: contentHash(files) };
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: objectKey(key, 'manifest.json'), Body: JSON.stringify(planted) }));
    }
    /** Replaces one file's bytes behind its manifest's back. */
    async function plantBytes(stage: string, bytes: (size: number) => Buffer): Promise<string> {
      const key = keys.get(stage)!;
      const manifest = await readManifest(key);
      const [name, file] = Object.entries(manifest.files)[0]!;
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: objectKey(key, 'files', name), Body: bytes(file.bytes) }));
      return name;
    }

    beforeAll(async () => {
      client = new S3Client({
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      await rig.write('small.yaml', SMALL);
      const a = await rig.pipe(remoteArgs('hostile-a', false), { env: s3.env });
      expect(a.code, a.stderr).toBe(0);
      keys = new Map(rig.events(a).filter((e) => e.type === 'stage-done').map((e) => [String(e['stage']), e['key'] as KeyHash]));
      expect([...keys.keys()].sort()).toEqual(['flatten', 'load', 'normalize', 'reshape', 'split-flat', 'split-images']);
    });
    afterAll(() => client.destroy());

    it('a manifest naming ../x, ../../../…, an absolute path, or files whose bytes differ is a miss: recomputed, reported, nothing written outside the store', async () => {
      await plantNames('normalize', [`${absolute}/abs.txt`]);
      await plantNames('flatten', ['../x']);
      await plantNames('reshape', [`../../../escaped-${id}.txt`]);
      const sameLength = await plantBytes('split-flat', (size) => Buffer.alloc(size, 7));
      await plantBytes('split-images', (size) => Buffer.alloc(size + 1000, 7));

      const store = join(rig.dir, 'hostile-b');
      const b = await rig.pipe(remoteArgs('hostile-b', true), { env: s3.env });
      expect(b.code, b.stderr).toBe(0);
      const events = rig.events(b);
      expect(byStatus(events, 'stage-failed')).toEqual([]);
      expect(byStatus(events, 'stage-done')).toEqual(['flatten', 'normalize', 'reshape', 'split-flat', 'split-images']);
      expect(events.filter((e) => e.type === 'stage-cached' && e['origin'] === 'remote').map((e) => e['stage'])).toEqual(['load']);
      const notices = events.filter((e) => e.type === 'notice').map((e) => String(e['message']));
      const noticeOf = (stage: string): string => {
        const about = notices.filter((m) => m.includes(`entry ${keys.get(stage)!}`));
        // One notice per entry, however often the run looks the key up.
        expect(about, stage).toHaveLength(1);
        return about[0]!;
      };
      expect(noticeOf('normalize')).toContain(`"${absolute}/abs.txt" is an absolute path`);
      expect(noticeOf('flatten')).toContain('"../x" has a ".." segment');
      expect(noticeOf('reshape')).toContain(`"../../../escaped-${id}.txt" has a ".." segment`);
      expect(noticeOf('split-flat')).toContain(`"${sameLength}" does not match its recorded sha256`);
      expect(noticeOf('split-images')).toContain('is longer than its recorded');
      for (const stage of ['normalize', 'flatten', 'reshape', 'split-flat', 'split-images']) expect(noticeOf(stage)).toContain('treated as a miss');

      // Where a download that trusted the names would have written (each temp dir is tmp/<one name>).
      expect(await exists(absolute)).toBe(false);
      expect(await exists(join(store, 'tmp', 'x'))).toBe(false);
      expect(await exists(join(rig.dir, `escaped-${id}.txt`))).toBe(false);
      expect(await exists(join(store, `escaped-${id}.txt`))).toBe(false);
      // Every temp dir (downloads and scratch) is gone.
      expect(await readdir(join(store, 'tmp'))).toEqual([]);
      const status = await rig.pipe(['status', 'small.yaml', '--store', 'hostile-b']);
      expect(status.code, status.stdout).toBe(0);
    });

    it('a writable run replaces the bad entries, and the next reader gets every stage from the remote', async () => {
      const c = await rig.pipe(remoteArgs('hostile-c', false), { env: s3.env });
      expect(c.code, c.stderr).toBe(0);
      const replaced = rig.events(c).filter((e) => e.type === 'notice' && String(e['message']).includes('replaced by this run'));
      expect(replaced).toHaveLength(5);
      const d = await rig.pipe(remoteArgs('hostile-d', true), { env: s3.env });
      expect(d.code, d.stderr).toBe(0);
      const events = rig.events(d);
      expect(byStatus(events, 'stage-done')).toEqual([]);
      expect(events.filter((e) => e.type === 'stage-cached' && e['origin'] === 'remote')).toHaveLength(6);
      expect(events.filter((e) => e.type === 'notice' && String(e['message']).includes('treated as a miss'))).toEqual([]);
    });
  });
});
