import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byStatus, makeRig, type Rig } from './rig.js';

const SEARCH = (samples: number): string => `name: search
stages:
  load: { kind: load, params: { train_limit: 600, test_limit: 100 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: flatten } }
  train:
    kind: train
    inputs: { data: split }
    params: { model: logistic-regression, epochs: 2 }
    search:
      strategy: random
      samples: ${samples}
      seed: 7
      space:
        learning_rate: { min: 0.0003, max: 0.01, log: true }
        l2: [0, 0.001, 0.01]
  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
  best: { kind: select, inputs: { candidates: "train[*]" }, params: { metric: val_accuracy } }
  report: { kind: report, inputs: { trainings: ["train[*]"], evaluations: ["evaluate[*]"] } }
`;

const trains = (names: readonly string[]): string[] => names.filter((n) => n.startsWith('train['));

describe('random search', () => {
  let rig: Rig;
  let firstTrials: string[] = [];
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  it('samples: 3 runs 3 trials, each evaluated; select picks one of them', async () => {
    await rig.write('s.yaml', SEARCH(3));
    const run = await rig.pipe(['run', 's.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const done = byStatus(rig.events(run), 'stage-done');
    firstTrials = trains(done);
    expect(firstTrials).toHaveLength(3);
    for (const name of firstTrials) expect(name).toMatch(/^train\[l2=(0|0\.001|0\.01),learning_rate=\d\.\d+(e-\d)?\]$/);
    expect(done.filter((n) => n.startsWith('evaluate['))).toHaveLength(3);
    expect(done).toEqual(expect.arrayContaining(['best', 'report']));
    const pick = JSON.parse((await rig.pipe(['show', 'best', '--json'])).stdout) as { metrics: { selected: string } };
    expect(firstTrials).toContain(pick.metrics.selected);
  });

  it('a second run executes nothing', async () => {
    const run = await rig.pipe(['run', 's.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(byStatus(rig.events(run), 'stage-done')).toEqual([]);
  });

  it('raising samples to 5 keeps the 3 trials and runs only the 2 new ones and what depends on them', async () => {
    await rig.write('s.yaml', SEARCH(5));
    const run = await rig.pipe(['run', 's.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const events = rig.events(run);
    const done = byStatus(events, 'stage-done');
    const fresh = trains(done);
    expect(fresh).toHaveLength(2);
    expect(fresh.filter((n) => firstTrials.includes(n))).toEqual([]);
    expect(byStatus(events, 'stage-cached')).toEqual(expect.arrayContaining([...firstTrials, 'load', 'normalize', 'flatten', 'split']));
    expect(done.filter((n) => n.startsWith('evaluate['))).toEqual(fresh.map((n) => n.replace(/^train/, 'evaluate')).sort());
    expect(done.filter((n) => !n.startsWith('train[') && !n.startsWith('evaluate['))).toEqual(['best', 'report']);

    const rows = JSON.parse((await rig.pipe(['compare', 's.yaml', '--format', 'json'])).stdout) as { variant: string }[];
    expect(rows.map((r) => r.variant).sort()).toEqual([...firstTrials, ...fresh].sort());
  });
});
