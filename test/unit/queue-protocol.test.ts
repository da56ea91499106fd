/** A queue job is JSON from Redis: a worker runs it only if its key is the hash of its own record. */
import { describe, expect, it } from 'vitest';
import type { ContentHash } from '../../artifacts/hash.js';
import { keyHash, type KeyRecord } from '../../artifacts/key.js';
import { jobProblem, type StageJobData } from '../../runner/queue/protocol.js';

const record: KeyRecord = { format: 1, kind: 'normalize', impl: 'normalize@1', params: { scale: 255 }, inputs: { data: 'c'.repeat(64) as ContentHash }, files: {} };
const job = (overrides: Partial<StageJobData> = {}): StageJobData => ({
  pipeline: 'p',
  stage: 'normalize',
  kind: 'normalize',
  params: { scale: 255 },
  key: keyHash(record),
  keyRecord: record,
  inputKeys: { data: { stage: 'load', key: keyHash({ ...record, kind: 'load' }) } },
  environment: {},
  external: { files: {} },
  ...overrides,
});

describe('jobProblem', () => {
  it('accepts a job whose key is its record hash, after a JSON round trip as through Redis', () => {
    expect(jobProblem(JSON.parse(JSON.stringify(job())) as StageJobData)).toBeUndefined();
  });

  it('refuses a record that does not hash to the key, a malformed key, and an input without a key', () => {
    expect(jobProblem(job({ keyRecord: { ...record, params: { scale: 1 } } }))).toMatch(/its key is not the hash of its key record/);
    expect(jobProblem(JSON.parse(JSON.stringify({ ...job(), key: '../x' })) as StageJobData)).toMatch(/has no valid key/);
    expect(jobProblem(JSON.parse(JSON.stringify({ ...job(), inputKeys: { data: { stage: 'load', key: 'nope' } } })) as StageJobData)).toMatch(/input data has no valid key/);
  });
});
