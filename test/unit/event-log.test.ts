/** The run's event log (runner/execute/event-log.ts): every state change kept in order, progress throttled. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyHash } from '../../artifacts/hash.js';
import { eventLog, eventLogPath, runIdOfEventLog } from '../../runner/execute/event-log.js';

const KEY = 'a'.repeat(64) as KeyHash;

describe('run event log', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipe-event-log-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes NDJSON under runs/, keeps every state change, and thins a burst of progress to its first and last', async () => {
    const file = eventLogPath(dir, 'run-1');
    expect(runIdOfEventLog('run-1.events.ndjson')).toBe('run-1');
    expect(runIdOfEventLog('run-1.json')).toBeUndefined();
    const warnings: string[] = [];
    const log = eventLog(file, (m) => warnings.push(m));
    log.handle({ type: 'run-start', pipeline: 'p', stages: ['a', 'b'], jobs: 1, store: dir });
    log.handle({ type: 'stage-start', stage: 'a', key: KEY, reasons: [] });
    for (let done = 1; done <= 1000; done++) log.handle({ type: 'stage-progress', stage: 'a', done, total: 1000 });
    log.handle({ type: 'stage-done', stage: 'a', key: KEY, seconds: 1, metrics: {} });
    log.handle({ type: 'run-end', seconds: 1, stages: [], interrupted: false });
    await log.close();
    log.handle({ type: 'notice', message: 'after close: dropped' });
    const events = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; done?: number; t: number });
    expect(events.map((e) => e.type)).toEqual(['run-start', 'stage-start', 'stage-progress', 'stage-progress', 'stage-done', 'run-end']);
    expect(events.filter((e) => e.type === 'stage-progress').map((e) => e.done)).toEqual([1, 1000]);
    expect(events.every((e) => typeof e.t === 'number')).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('warns once and never throws when the log cannot be written', async () => {
    const warnings: string[] = [];
    const log = eventLog(join(dir, 'missing', 'x', '\0bad'), (m) => warnings.push(m));
    // A turn of the event loop before the first event: the failed mkdir must not go unhandled.
    await new Promise((done) => setTimeout(done, 0));
    log.handle({ type: 'notice', message: 'one' });
    log.handle({ type: 'notice', message: 'two' });
    await log.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/could not write the run's event log/);
  });
});
