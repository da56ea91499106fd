/** Run records read back newest result first, so overlapping runs of one pipeline resolve to the one that finished last. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseKeyHash, type KeyHash } from '../../artifacts/hash.js';
import { lastSuccessful, readRunRecords, writeRunRecord, type RunRecord } from '../../runner/execute/run-records.js';

const key = (c: string): KeyHash => parseKeyHash(c.repeat(64))!;

function record(id: string, started: string, finished: string, ensembleKey: KeyHash): RunRecord {
  return {
    id,
    pipeline: 'best',
    file: 'pipelines/best.yaml',
    argv: ['run', 'pipelines/best.yaml'],
    started_at: started,
    finished_at: finished,
    interrupted: false,
    stages: { ensemble: { status: 'ran', key: ensembleKey, key_record: {} } as unknown as RunRecord['stages'][string] },
  };
}

describe('run records', () => {
  let root = '';
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pipe-runs-'));
    await mkdir(join(root, 'runs'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('a long run started first but finished last is the newest, whatever the order of the file names', async () => {
    // The long run (a) started at 14:17 and finished at 15:35; a short run (b) of the same pipeline ran 14:30–14:33.
    await writeRunRecord(root, record('2026-12-02T14-17-00-000Z-1', '2026-12-02T14:17:00.000Z', '2026-12-02T15:35:00.000Z', key('a')));
    await writeRunRecord(root, record('2026-12-02T14-30-00-000Z-2', '2026-12-02T14:30:00.000Z', '2026-12-02T14:33:00.000Z', key('b')));
    const records = await readRunRecords(root);
    expect(records.map((r) => r.id)).toEqual(['2026-12-02T14-17-00-000Z-1', '2026-12-02T14-30-00-000Z-2']);
    expect(lastSuccessful(records, 'best').get('ensemble')?.key).toBe(key('a'));
  });

  it('runs that finished at the same moment fall back to the later start', async () => {
    await writeRunRecord(root, record('2026-12-02T10-00-00-000Z-1', '2026-12-02T10:00:00.000Z', '2026-12-02T11:00:00.000Z', key('c')));
    await writeRunRecord(root, record('2026-12-02T10-30-00-000Z-2', '2026-12-02T10:30:00.000Z', '2026-12-02T11:00:00.000Z', key('d')));
    expect(lastSuccessful(await readRunRecords(root), 'best').get('ensemble')?.key).toBe(key('d'));
  });
});
