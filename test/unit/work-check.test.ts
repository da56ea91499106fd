/**
 * The key record is the work: a stage thread derives kind, params and backend from the record and
 * refuses, by field, any job whose other fields disagree (runner/execute/work-check.ts).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContentHash } from '../../artifacts/hash.js';
import { keyHash, type KeyRecord } from '../../artifacts/key.js';
import type { Plan, PlannedStage } from '../../runner/config/types.js';
import { keyRecordFor } from '../../runner/execute/keys.js';
import { deriveWork, firstDifference, JobRefusedError, type ClaimedWork } from '../../runner/execute/work-check.js';
import { planWithPlugins } from '../../runner/plugins/plan-code.js';
import { ON_WORKER_FAILURE } from '../../stages/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');
const fakeHash = (n: number): ContentHash => n.toString(16).padStart(64, '0') as ContentHash;

/** The claim `pipe run` would make for a planned stage, with made-up input hashes. */
function claimFor(stage: PlannedStage, backend = 'wasm'): ClaimedWork {
  const inputs = Object.fromEntries(Object.entries(stage.inputs).map(([name, input], i) => [name, input.many ? input.refs.map((_, j) => fakeHash(100 * i + j)) : fakeHash(i)]));
  const keyRecord = keyRecordFor(stage, inputs, {}, backend);
  return { key: keyHash(keyRecord), keyRecord, kind: stage.kind, params: stage.params, ...(stage.definition.usesBackend ? { backend } : {}) };
}

function refusal(stage: PlannedStage, claim: ClaimedWork): JobRefusedError {
  try {
    deriveWork(stage.definition, claim);
  } catch (error) {
    if (error instanceof JobRefusedError) return error;
    throw error;
  }
  throw new Error('the job was not refused');
}

describe('deriveWork', () => {
  let plans: Plan[];
  const stage = (name: string): PlannedStage => {
    const found = plans[0]?.stages.find((s) => s.name === name);
    if (!found) throw new Error(`no stage ${name}`);
    return found;
  };
  beforeAll(async () => {
    plans = await Promise.all(['tiny.yaml', 'full-comparison.yaml', 'sweep-cnn.yaml'].map((f) => planWithPlugins(join(ROOT, 'pipelines', f), [])));
  });

  it('derives exactly the planned params and backend for every stage of three real pipelines', () => {
    let checked = 0;
    for (const plan of plans) {
      for (const s of plan.stages) {
        const derived = deriveWork(s.definition, claimFor(s));
        expect(derived.params, s.name).toEqual(s.params);
        expect(derived.backend, s.name).toBe(s.definition.usesBackend ? 'wasm' : undefined);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('derives params from the record alone: a job that omits or changes params is refused by field', () => {
    const train = stage('train-cnn');
    const claim = claimFor(train);
    expect(refusal(train, { ...claim, params: { ...train.params, epochs: 99 } }).field).toBe('params.epochs');
    const withoutRate = Object.fromEntries(Object.entries(train.params).filter(([name]) => name !== 'learning_rate'));
    expect(refusal(train, { ...claim, params: withoutRate }).message).toMatch(/params\.learning_rate: the job says \(unset\), its key record/);
  });

  it('refuses a kind, key, version or backend that the record does not name', () => {
    const normalize = stage('normalize');
    const claim = claimFor(normalize);
    expect(refusal(normalize, { ...claim, kind: 'exec' }).field).toBe('kind');
    expect(refusal(normalize, { ...claim, keyRecord: { ...claim.keyRecord, params: { ...claim.keyRecord.params, scale: 1 } } }).field).toBe('key');
    const older: KeyRecord = { ...claim.keyRecord, impl: 'normalize@0' };
    expect(refusal(normalize, { ...claim, keyRecord: older, key: keyHash(older) }).field).toBe('impl');
    const train = stage('train-cnn');
    const trainClaim = claimFor(train, 'wasm');
    expect(refusal(train, { ...trainClaim, backend: 'cpu' }).field).toBe('backend');
    const noBackend = Object.fromEntries(Object.entries(trainClaim.keyRecord.params).filter(([name]) => name !== '__backend'));
    const bare: KeyRecord = { ...trainClaim.keyRecord, params: noBackend };
    expect(refusal(train, { ...trainClaim, keyRecord: bare, key: keyHash(bare) }).field).toBe('backend');
  });

  it('refuses a record whose params are not the key params of their own defaults', () => {
    const train = stage('train-cnn');
    const claim = claimFor(train);
    // A param that is omitted from keys while at its default cannot appear there at its default.
    const padded: KeyRecord = { ...claim.keyRecord, params: { ...claim.keyRecord.params, weight_decay: 0 } };
    expect(refusal(train, { ...claim, keyRecord: padded, key: keyHash(padded) }).field).toBe('params.weight_decay');
  });

  it('refuses a record whose params the planner would refuse across params (schedule_epochs < epochs)', () => {
    const train = stage('train-cnn');
    const claim = claimFor(train);
    const epochs = Number(train.params['epochs']);
    const params = { ...train.params, epochs: epochs + 1, schedule_epochs: epochs };
    const short: KeyRecord = { ...claim.keyRecord, params: { ...claim.keyRecord.params, epochs: epochs + 1, schedule_epochs: epochs } };
    const refused = refusal(train, { ...claim, keyRecord: short, key: keyHash(short), params });
    expect(refused.field).toBe('params.schedule_epochs');
    expect(refused.message).toMatch(/is less than epochs/);
  });

  it('is a final failure on a worker: the same job fails the same way everywhere', () => {
    expect(ON_WORKER_FAILURE['job-refused']).toBe('final');
  });

  it('firstDifference names the first differing path', () => {
    expect(firstDifference({ a: 1, b: { c: 2 } }, { a: 1, b: { c: 3 } })).toBe('b.c');
    expect(firstDifference({ a: [1, 2] }, { a: [1, 2] })).toBeUndefined();
    expect(firstDifference(1, 2)).toBe('');
  });
});
