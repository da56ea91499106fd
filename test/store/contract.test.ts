/**
 * One contract for every ArtifactStore: the local directory, and a local directory in front of a
 * real S3-compatible server (s3rver on loopback, through the real AWS SDK).
 */
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, type KeyHash } from '../../artifacts/hash.js';
import { keyHash, type KeyRecord } from '../../artifacts/key.js';
import { RemoteBackedStore } from '../../artifacts/remote-store.js';
import { S3Remote } from '../../artifacts/s3-remote.js';
import { LocalStore, type ArtifactStore, type ManifestDraft } from '../../artifacts/store.js';
import { startS3, type S3Service } from '../services/s3.js';

let n = 0;
// Real keys (the hash of their key record): a remote reader checks that they match.
const records = new Map<KeyHash, KeyRecord>();
const newKey = (): KeyHash => {
  const record: KeyRecord = { format: 1, kind: 'test', impl: '1', params: { id: `contract-${process.pid}-${n++}-${Math.random()}` }, inputs: {}, files: {} };
  const key = keyHash(record);
  records.set(key, record);
  return key;
};
const draft = (key: KeyHash): ManifestDraft => ({ key, stage: 's', pipeline: 'p', kind: 'test', key_record: records.get(key)!, inputs: {}, metrics: { m: 1 }, started_at: new Date().toISOString(), duration_s: 0, environment: {} });

async function writeArtifact(store: ArtifactStore, key: KeyHash, text: string): Promise<string> {
  const temp = await store.createTemp(key);
  await mkdir(join(temp, 'sub'), { recursive: true });
  await writeFile(join(temp, 'a.txt'), text);
  await writeFile(join(temp, 'sub', 'b.bin'), Buffer.from([1, 2, 3]));
  return temp;
}

interface Subject {
  readonly name: string;
  open(): Promise<ArtifactStore>;
}

let s3: S3Service;
let dir: string;
const saved: Record<string, string | undefined> = {};
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipe-contract-'));
  s3 = await startS3();
  for (const [k, v] of Object.entries(s3.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

const subjects: Subject[] = [
  { name: 'local directory', open: () => LocalStore.open(join(dir, `local-${n++}`)) },
  { name: 'local + S3 remote', open: async () => new RemoteBackedStore(await LocalStore.open(join(dir, `tier-${n++}`)), new S3Remote(`s3://${s3.bucket}/contract`, false)) },
];

describe.each(subjects)('ArtifactStore contract: $name', (subject) => {
  it('a missing key is absent; a committed one is a verified hit with every file recorded', async () => {
    const store = await subject.open();
    const key = newKey();
    expect((await store.lookup(key)).status).toBe('absent');
    const manifest = await store.commit(await writeArtifact(store, key, 'hello'), draft(key));
    expect(Object.keys(manifest.files).sort()).toEqual(['a.txt', 'sub/b.bin']);
    expect(manifest.files['a.txt']).toEqual({ sha256: sha256('hello'), bytes: 5 });
    const found = await store.lookup(key);
    expect(found.status).toBe('hit');
    if (found.status === 'hit') expect(await readFile(join(found.dir, 'a.txt'), 'utf8')).toBe('hello');
    expect(await store.keys()).toContain(key);
  });

  it('commit is write-once: a second writer of the same key keeps the first artifact', async () => {
    const store = await subject.open();
    const key = newKey();
    const first = await store.commit(await writeArtifact(store, key, 'first'), draft(key));
    const second = await store.commit(await writeArtifact(store, key, 'second'), draft(key));
    expect(second.content_hash).toBe(first.content_hash);
    expect(await readFile(join(store.artifactDir(key), 'a.txt'), 'utf8')).toBe('first');
  });

  it('a damaged file makes the artifact corrupt, never a hit; remove deletes it', async () => {
    const store = await subject.open();
    const key = newKey();
    await store.commit(await writeArtifact(store, key, 'intact'), draft(key));
    await writeFile(join(store.artifactDir(key), 'a.txt'), 'tampered');
    const found = await store.lookup(key);
    // With a remote, the intact remote copy replaces the damaged local one.
    if (found.status === 'hit') {
      expect(subject.name).toContain('remote');
      expect(await readFile(join(found.dir, 'a.txt'), 'utf8')).toBe('intact');
    } else {
      expect(found).toMatchObject({ status: 'corrupt' });
    }
    await store.remove(key);
    expect(await store.keys()).not.toContain(key);
  });

  it('a key lease is exclusive until released', async () => {
    const store = await subject.open();
    const key = newKey();
    const a = await store.claimKey(key, 'first');
    expect(a.acquired).toBe(true);
    const b = await store.claimKey(key, 'second');
    expect(b).toMatchObject({ acquired: false, holder: { pid: process.pid, purpose: 'first' } });
    if (a.acquired) await a.lease.release();
    const c = await store.claimKey(key, 'third');
    expect(c.acquired).toBe(true);
    if (c.acquired) await c.lease.release();
  });
});

describe('local stores sharing one S3 remote', () => {
  it('a second machine downloads and verifies what the first uploaded', async () => {
    const remote = (readOnly = false) => new S3Remote(`s3://${s3.bucket}/shared`, readOnly);
    const machineA = new RemoteBackedStore(await LocalStore.open(join(dir, 'machine-a')), remote());
    const machineB = new RemoteBackedStore(await LocalStore.open(join(dir, 'machine-b')), remote());
    const key = newKey();
    await machineA.commit(await writeArtifact(machineA, key, 'from A'), draft(key));
    const found = await machineB.lookup(key);
    expect(found).toMatchObject({ status: 'hit', origin: 'remote' });
    if (found.status === 'hit') expect(await readFile(join(found.dir, 'a.txt'), 'utf8')).toBe('from A');
    // Now local on B: no second download.
    expect(await machineB.lookup(key)).not.toHaveProperty('origin');
  });

  it('a read-only consumer uploads nothing', async () => {
    const consumer = new RemoteBackedStore(await LocalStore.open(join(dir, 'consumer')), new S3Remote(`s3://${s3.bucket}/ro`, true));
    const key = newKey();
    await consumer.commit(await writeArtifact(consumer, key, 'local only'), draft(key));
    expect(await new S3Remote(`s3://${s3.bucket}/ro`, false).entry(key)).toEqual({ status: 'absent' });
  });

  it('a remote file that does not match its sha256 is a miss with a notice, nothing is adopted, and a writer replaces the entry', async () => {
    const writer = new RemoteBackedStore(await LocalStore.open(join(dir, 'writer')), new S3Remote(`s3://${s3.bucket}/poison`, false));
    const key = newKey();
    const manifest = await writer.commit(await writeArtifact(writer, key, 'good'), draft(key));
    // Overwrite one file behind the manifest's back (same length), as a compromised writer could.
    const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ forcePathStyle: true });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `poison/artifacts/${key}/files/a.txt`, Body: 'evil' }));
    const notices: string[] = [];
    const reader = new RemoteBackedStore(await LocalStore.open(join(dir, 'reader')), new S3Remote(`s3://${s3.bucket}/poison`, true), (m) => notices.push(m));
    expect(await reader.lookup(key)).toEqual({ status: 'absent' });
    expect(await reader.lookup(key)).toEqual({ status: 'absent' });
    // Reported once per process, naming the entry and the reason.
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(key);
    expect(notices[0]).toMatch(/"a\.txt" does not match its recorded sha256/);
    expect(await reader.keys()).not.toContain(key);
    expect(await readdir(join(dir, 'reader', 'tmp'))).toEqual([]);
    expect(manifest.files['a.txt']?.sha256).toBe(sha256('good'));

    // A writable store that recomputes the key replaces the bad entry; the next reader gets it.
    const fixerNotices: string[] = [];
    const fixer = new RemoteBackedStore(await LocalStore.open(join(dir, 'fixer')), new S3Remote(`s3://${s3.bucket}/poison`, false), (m) => fixerNotices.push(m));
    expect((await fixer.lookup(key)).status).toBe('absent');
    await fixer.commit(await writeArtifact(fixer, key, 'good'), draft(key));
    expect(fixerNotices.at(-1)).toContain(`entry ${key} replaced`);
    const later = new RemoteBackedStore(await LocalStore.open(join(dir, 'later')), new S3Remote(`s3://${s3.bucket}/poison`, true), (m) => notices.push(m));
    const found = await later.lookup(key);
    expect(found).toMatchObject({ status: 'hit', origin: 'remote' });
    if (found.status === 'hit') expect(await readFile(join(found.dir, 'a.txt'), 'utf8')).toBe('good');
    expect(notices).toHaveLength(1);
  });

  it('a writer never replaces an entry it did not find untrusted itself', async () => {
    const remote = new S3Remote(`s3://${s3.bucket}/keep`, false);
    const first = new RemoteBackedStore(await LocalStore.open(join(dir, 'keep-1')), remote);
    const key = newKey();
    await first.commit(await writeArtifact(first, key, 'first'), draft(key));
    const found = await remote.entry(key);
    if (found.status !== 'valid') throw new Error('expected a valid entry');
    const second = await LocalStore.open(join(dir, 'keep-2'));
    const manifest = await second.commit(await writeArtifact(second, key, 'second'), draft(key));
    // A stale fingerprint (not the entry now there) replaces nothing.
    expect(await remote.upload(manifest, second.artifactDir(key), sha256('some other manifest'))).toBe(false);
    expect(await remote.entry(key)).toEqual(found);
  });

  it('an unreachable endpoint is a clear error naming the URL', async () => {
    const before = process.env['AWS_ENDPOINT_URL'];
    process.env['AWS_ENDPOINT_URL'] = 'http://127.0.0.1:9';
    try {
      await expect(new S3Remote('s3://nowhere/x', false).check()).rejects.toThrow(/remote s3:\/\/nowhere\/x: reaching the bucket failed/);
    } finally {
      process.env['AWS_ENDPOINT_URL'] = before;
    }
  });
});
