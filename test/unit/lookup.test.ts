/**
 * Inspection only looks: external files are never fetched, a missing one makes the stage stale with
 * a reason (not an error), and nothing is created in the store or the download cache.
 */
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatReason } from '../../artifacts/key.js';
import { LocalStore, LocalStoreReader } from '../../artifacts/store.js';
import { isManyInput } from '../../runner/cli/context.js';
import { loadPipeline } from '../../runner/config/load.js';
import { resolveStage } from '../../runner/execute/resolve.js';
import { computeStatus } from '../../runner/execute/status.js';
import { plan } from '../../runner/plan/plan.js';
import { locateIn } from '../../stages/data/fashion-mnist.js';
import { STAGES } from '../../stages/index.js';
import type { FileAccess, StageDefinition } from '../../stages/types.js';

async function setup(): Promise<{ dir: string; accesses: FileAccess[]; planned: ReturnType<typeof plan> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-lookup-'));
  const data = join(dir, 'data.bin');
  await writeFile(data, 'remote bytes, as if downloaded');
  const accesses: FileAccess[] = [];
  // Like `load` before its download: only `fetch` may bring the file here.
  const remote: StageDefinition = {
    kind: 'remote',
    version: 1,
    description: 'reads a file that only a fetch brings',
    inputs: [],
    schema: { type: 'object', properties: {}, additionalProperties: false },
    fileInputs(_params, access) {
      accesses.push(access);
      return Promise.resolve(access === 'fetch' ? { files: { data } } : { notPresent: 'data file not present locally (pipe run fetches it)' });
    },
    run: () => Promise.resolve({}),
  };
  const file = join(dir, 'p.yaml');
  await writeFile(file, 'stages:\n  fetched: { kind: remote }\n  after: { kind: inspect, inputs: { data: fetched } }\n');
  return { dir, accesses, planned: plan(await loadPipeline(file, { overrides: [], isManyInput }), { ...STAGES, remote }) };
}

describe('lookup-only inspection', () => {
  it('reports a file that is not present as stale with a reason, on a store that does not exist, creating nothing', async () => {
    const { dir, accesses, planned } = await setup();
    const root = join(dir, 'no-store');
    const reader = await LocalStoreReader.openReadOnly(root);
    const states = await computeStatus(planned, reader, new Map(), 'auto');
    await reader.close();
    expect(accesses).toEqual(['lookup']);
    expect(states.map((s) => [s.stage, s.state, s.state === 'stale' ? s.reasons.map(formatReason) : []])).toEqual([
      ['fetched', 'stale', ['output-missing data file not present locally (pipe run fetches it)']],
      ['after', 'stale', [formatReason({ code: 'upstream-stale', stage: 'fetched' })]],
    ]);
    expect(states[0]?.key).toBeUndefined();
    expect(existsSync(root)).toBe(false);
  });

  it('run resolves through the same path with fetch, and gets a key', async () => {
    const { dir, accesses, planned } = await setup();
    const store = await LocalStore.open(join(dir, 'store'));
    const stage = planned.byName.get('fetched');
    if (!stage) throw new Error('fetched not planned');
    const resolution = await resolveStage(stage, {}, store, undefined, 'auto', false, 'fetch');
    await store.close();
    expect(accesses).toEqual(['fetch']);
    expect(resolution.key).toMatch(/^[0-9a-f]{64}$/);
    expect(resolution.found.status).toBe('absent');
  });

  it('locating Fashion-MNIST for lookup never creates the download cache', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipe-locate-'));
    const cache = join(dir, 'home', '.cache', 'pipe', 'fashion-mnist');
    expect(await locateIn([[join(dir, 'nowhere'), 'nowhere']], cache, 'lookup')).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });
});
