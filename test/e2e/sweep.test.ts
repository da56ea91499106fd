import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { byStatus, makeRig, ROOT, type Rig } from './rig.js';

const SWEEP = (seeds: string): string => `name: sweep
stages:
  load: { kind: load, params: { train_limit: 2000, test_limit: 100 } }
  normalize: { kind: normalize, inputs: { data: load } }
  split:
    kind: split
    inputs: { data: normalize }
    matrix:
      seed: ${seeds}
      validation: [0.1, 0.2]
  flatten: { kind: flatten, inputs: { data: split } }
  pick:
    kind: select
    inputs: { candidates: "split[*]" }
    params: { metric: val_count, mode: max }
`;

describe('sweeps', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  it('runs shared upstream stages once and every variant with its dependents', async () => {
    await rig.write('s.yaml', SWEEP('[1, 2]'));
    const run = await rig.pipe(['run', 's.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const done = byStatus(rig.events(run), 'stage-done');
    expect(done.filter((s) => s === 'load' || s === 'normalize')).toEqual(['load', 'normalize']);
    expect(done.filter((s) => s.startsWith('split['))).toEqual(['split[seed=1,validation=0.1]', 'split[seed=1,validation=0.2]', 'split[seed=2,validation=0.1]', 'split[seed=2,validation=0.2]']);
    expect(done.filter((s) => s.startsWith('flatten['))).toHaveLength(4);
    expect(done).toContain('pick');
  });

  it('changing one swept value reruns only the new variants', async () => {
    await rig.write('s.yaml', SWEEP('[1, 3]'));
    const run = await rig.pipe(['run', 's.yaml', '--json']);
    const events = rig.events(run);
    expect(byStatus(events, 'stage-done').filter((s) => s.startsWith('split['))).toEqual(['split[seed=3,validation=0.1]', 'split[seed=3,validation=0.2]']);
    expect(byStatus(events, 'stage-cached')).toEqual(expect.arrayContaining(['split[seed=1,validation=0.1]', 'split[seed=1,validation=0.2]', 'load', 'normalize']));
  });

  it('compare shows the varying params and metrics; best picks the winner', async () => {
    const table = await rig.pipe(['compare', 's.yaml', '--sort', 'val_count']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/variant\s+state\s+seed\s+validation\s+.*split\.val_count/);
    expect(lines[2]).toMatch(/validation=0\.2/);
    const json = JSON.parse((await rig.pipe(['compare', 's.yaml', '--format', 'json'])).stdout) as { variant: string; metrics: Record<string, number> }[];
    expect(json).toHaveLength(4);
    expect(json.every((r) => r.metrics['split.val_count'] === (r.variant.includes('validation=0.2') ? 400 : 200))).toBe(true);
    const csv = (await rig.pipe(['compare', 's.yaml', '--format', 'csv'])).stdout;
    expect(csv.split('\n')[0]).toContain('variant,state,seed,validation');
    expect((await rig.pipe(['best', 's.yaml', '--metric', 'val_count', '--max'])).stdout.trim()).toMatch(/^split\[seed=(1|3),validation=0\.2\]$/);
    const best = JSON.parse((await rig.pipe(['best', 's.yaml', '--metric', 'val_count', '--min', '--json'])).stdout) as { params: { validation: number } };
    expect(best.params.validation).toBe(0.1);
  });

  it('select passes the best variant on, by a validation metric', async () => {
    const show = JSON.parse((await rig.pipe(['show', 'pick', '--json'])).stdout) as { metrics: Record<string, unknown>; files: Record<string, unknown> };
    expect(show.metrics['selected']).toMatch(/^split\[seed=1,validation=0\.2\]$/);
    expect(Object.keys(show.files)).toEqual(expect.arrayContaining(['x_train.npy', 'selection.json']));
  });

  it('a failing variant does not stop the others; a rerun retries only what failed', async () => {
    const dataDir = join(ROOT, 'data', 'fashion-mnist');
    await rig.write('f.yaml', `name: fails
stages:
  load:
    kind: load
    params: { train_limit: 500, test_limit: 50 }
    foreach:
      - { path: no-such-dir }
      - { path: ${JSON.stringify(dataDir)} }
  normalize: { kind: normalize, inputs: { data: load } }
`);
    const run = await rig.pipe(['run', 'f.yaml', '--json']);
    expect(run.code).toBe(1);
    const events = rig.events(run);
    expect(byStatus(events, 'stage-failed')).toHaveLength(1);
    expect(byStatus(events, 'stage-done')).toHaveLength(2);
    const compare = await rig.pipe(['compare', 'f.yaml']);
    expect(compare.stdout).toMatch(/failed/);
    const again = await rig.pipe(['run', 'f.yaml', '--json']);
    expect(byStatus(rig.events(again), 'stage-done')).toEqual([]);
    expect(byStatus(rig.events(again), 'stage-failed')).toHaveLength(1);
  });

  it('a model sweep: select by validation accuracy, evaluate the winner, report a sweep section', async () => {
    await rig.write('models.yaml', `name: model-sweep
stages:
  load: { kind: load, params: { train_limit: 2000, test_limit: 300 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: flatten } }
  train:
    kind: train
    inputs: { data: split }
    params: { model: logistic-regression, epochs: 3 }
    matrix:
      learning_rate: [0.0002, 0.005]
      l2: [0, 0.01]
  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
  best: { kind: select, inputs: { candidates: "train[*]" }, params: { metric: val_accuracy } }
  evaluate-best: { kind: evaluate, inputs: { model: best, data: split } }
  report:
    kind: report
    inputs: { trainings: ["train[*]"], evaluations: ["evaluate[*]", evaluate-best] }
`);
    const run = await rig.pipe(['run', 'models.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const events = rig.events(run);
    const trained = events.filter((e) => e.type === 'stage-done' && String(e['stage']).startsWith('train[')) as unknown as Array<{ stage: string; metrics: { val_accuracy: number } }>;
    expect(trained).toHaveLength(4);
    const top = Math.max(...trained.map((t) => t.metrics.val_accuracy));
    const winner = trained.find((t) => t.metrics.val_accuracy === top)!.stage;
    const pick = events.find((e) => e.type === 'stage-done' && e['stage'] === 'best') as unknown as { metrics: Record<string, unknown> };
    expect(pick.metrics['selected']).toBe(winner);
    expect((await rig.pipe(['best', 'models.yaml', '--metric', 'train.val_accuracy', '--max'])).stdout.trim()).toBe(winner);
    const evalBest = events.find((e) => e.type === 'stage-done' && e['stage'] === 'evaluate-best') as unknown as { metrics: Record<string, number> };
    const evalWinner = events.find((e) => e.type === 'stage-done' && e['stage'] === winner.replace(/^train/, 'evaluate')) as unknown as { metrics: Record<string, number> };
    expect(evalBest.metrics['accuracy']).toBe(evalWinner.metrics['accuracy']);

    const html = readFileSync(join(rig.dir, 'reports', 'model-sweep.html'), 'utf8');
    expect(html).toContain('<section id="sweep">');
    const sweepTable = html.slice(html.indexOf('id="sweep-table-0"'), html.indexOf('</table>', html.indexOf('id="sweep-table-0"')));
    expect(sweepTable.match(/<tr/g)).toHaveLength(5); // header + 4 variants
    expect(sweepTable).toContain('learning_rate');
    expect(sweepTable).toContain('l2');
    expect(sweepTable).not.toContain('>epochs<');
    expect(html).toContain('fig-sweep-0-0');
  });
});
