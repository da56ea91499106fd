import { readdirSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, PipelineInvalidError } from '../../runner/diagnostics.js';
import { loadPipeline } from '../../runner/config/load.js';
import { plan, selectTargets, withUserCode } from '../../runner/plan/plan.js';
import type { Plan } from '../../runner/config/types.js';
import { isManyInput } from '../../runner/cli/context.js';
import { STAGES } from '../../stages/index.js';

async function planText(yaml: string, overrides: string[] = []): Promise<ReturnType<typeof plan>> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-plan-'));
  const file = join(dir, 'p.yaml');
  await writeFile(file, yaml);
  return plan(await loadPipeline(file, { overrides, isManyInput }), STAGES);
}

async function problems(yaml: string, overrides: string[] = []): Promise<string[]> {
  try {
    await planText(yaml, overrides);
  } catch (error) {
    if (error instanceof PipelineInvalidError) return error.diagnostics.map(formatDiagnostic);
    throw error;
  }
  return [];
}

const BASE = `params: { seed: 3 }
defaults:
  split: { validation: 0.2 }
stages:
  load: { kind: load, params: { train_limit: 100 } }
  norm: { kind: normalize, inputs: { data: load } }
  flat: { kind: flatten, inputs: { data: norm } }
  img: { kind: reshape, inputs: { data: norm } }
  split-flat: { kind: split, inputs: { data: flat }, params: { seed: "\${params.seed}" } }
  split-img: { kind: split, inputs: { data: img } }
`;

describe('planning', () => {
  it('orders stages topologically with stable ties and resolves defaults, shared params and schema defaults', async () => {
    const p = await planText(BASE);
    expect(p.stages.map((s) => s.name)).toEqual(['load', 'norm', 'flat', 'img', 'split-flat', 'split-img']);
    const split = p.byName.get('split-flat');
    expect(split?.params).toEqual({ seed: 3, validation: 0.2, stratify: true });
    expect(split?.provenance['seed']).toEqual({ source: 'file', path: ['stages', 'split-flat', 'params', 'seed'] });
    expect(split?.provenance['validation']).toEqual({ source: 'defaults', path: ['defaults', 'split', 'validation'] });
    expect(split?.provenance['stratify']).toEqual({ source: 'schema-default' });
    expect(split?.impl).toBe('split@1');
  });

  it('gives the longest remaining chain the highest priority', async () => {
    const p = await planText(BASE);
    expect(p.priority.get('load')).toBe(4);
    expect(p.priority.get('split-img')).toBe(1);
  });

  it('selects a target with its ancestors only', async () => {
    const p = await planText(BASE);
    expect([...selectTargets(p, ['split-img']).names].sort()).toEqual(['img', 'load', 'norm', 'split-img']);
    expect(selectTargets(p, ['nope']).unknown).toEqual(['nope']);
  });

  it('--set overrides stage params and shared params, validated by the same schema', async () => {
    const p = await planText(BASE, ['split-img.seed=9', 'params.seed=5']);
    expect(p.byName.get('split-img')?.params['seed']).toBe(9);
    expect(p.byName.get('split-img')?.provenance['seed']).toEqual({ source: 'cli', text: '--set split-img.seed=9' });
    expect(p.byName.get('split-flat')?.params['seed']).toBe(5);
    const bad = await problems(BASE, ['split-img.seed=abc', 'nosuch.x=1']);
    expect(bad.join('\n')).toContain('"seed" must be integer');
    expect(bad.join('\n')).toContain('no stage named "nosuch"');
  });

  it('reports every problem at once', async () => {
    const out = await problems(`stages:
  load: { kind: lod }
  a: { kind: split, inputs: { data: missing } }
  b: { kind: split, inputs: { data: load }, params: { seed: x } }
`);
    expect(out).toHaveLength(3);
  });
});

describe('cache-key params', () => {
  const TRAIN = `${BASE}  train: { kind: train, inputs: { data: split-img }, params: { model: cnn, epochs: 1 } }
`;
  it('leave out a param marked x-key-omit-at-default while it holds its default, so adding it kept every cached key', async () => {
    const train = (await planText(TRAIN)).byName.get('train')!;
    // The code still reads it (filled by the schema), but the key sees the params from before it existed.
    expect(train.params['augment_erase']).toBe(0);
    expect(train.keyParams).not.toHaveProperty('augment_erase');
    const marked = new Set(['augment_erase', 'label_smoothing', 'weight_decay', 'schedule_epochs']);
    expect(train.keyParams).toEqual(Object.fromEntries(Object.entries(train.params).filter(([key]) => !marked.has(key))));
    // Written at its default, the key is the same; any other value joins the key.
    expect((await planText(TRAIN, ['train.augment_erase=0'])).byName.get('train')!.keyParams).toEqual(train.keyParams);
    expect((await planText(TRAIN, ['train.augment_erase=0.5'])).byName.get('train')!.keyParams['augment_erase']).toBe(0.5);
  });

  it('label_smoothing is marked too: out of the key at 0 (every cached network keeps its key), in it otherwise', async () => {
    const train = (await planText(TRAIN)).byName.get('train')!;
    expect(train.params['label_smoothing']).toBe(0);
    expect(train.keyParams).not.toHaveProperty('label_smoothing');
    expect((await planText(TRAIN, ['train.label_smoothing=0.1'])).byName.get('train')!.keyParams['label_smoothing']).toBe(0.1);
  });

  it('weight_decay is marked too: out of the key at 0, in it otherwise', async () => {
    const train = (await planText(TRAIN)).byName.get('train')!;
    expect(train.params['weight_decay']).toBe(0);
    expect(train.keyParams).not.toHaveProperty('weight_decay');
    expect((await planText(TRAIN, ['train.weight_decay=0.05'])).byName.get('train')!.keyParams['weight_decay']).toBe(0.05);
  });

  it('schedule_epochs is marked too: out of the key at 0 (= epochs), in it otherwise; below epochs it is refused at its place', async () => {
    const train = (await planText(TRAIN)).byName.get('train')!;
    expect(train.params['schedule_epochs']).toBe(0);
    expect(train.keyParams).not.toHaveProperty('schedule_epochs');
    const epochs = Number(train.params['epochs']);
    expect((await planText(TRAIN, [`train.schedule_epochs=${epochs + 2}`])).byName.get('train')!.keyParams['schedule_epochs']).toBe(epochs + 2);
    const refused = await problems(TRAIN, [`train.epochs=${epochs + 1}`, `train.schedule_epochs=${epochs}`]);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain(`stage "train" params: schedule_epochs ${epochs} is less than epochs ${epochs + 1}`);
  });

  it('keep every unmarked param, defaults included', async () => {
    const p = await planText(TRAIN);
    for (const stage of p.stages.filter((s) => s.kind !== 'train')) expect(stage.keyParams).toEqual(stage.params);
    expect(p.byName.get('train')!.keyParams['augment_shift']).toBe(0);
  });
});

describe('sweeps', () => {
  const SWEEP = (matrix: string): string => `stages:
  load: { kind: load }
  norm: { kind: normalize, inputs: { data: load } }
  split:
    kind: split
    inputs: { data: norm }
    matrix: ${matrix}
  flat: { kind: flatten, inputs: { data: split } }
`;

  it('expands a matrix into stably named variants; dependents expand with it', async () => {
    const p = await planText(SWEEP('{ validation: [0.1, 0.2], seed: [1, 2] }'));
    const names = p.stages.map((s) => s.name);
    expect(names).toContain('split[seed=1,validation=0.1]');
    expect(names).toContain('flat[seed=2,validation=0.2]');
    expect(names.filter((n) => n.startsWith('split['))).toHaveLength(4);
    expect(p.dependencies.get('flat[seed=1,validation=0.2]')).toEqual(['split[seed=1,validation=0.2]']);
    expect(p.byName.get('split[seed=2,validation=0.1]')?.params).toMatchObject({ seed: 2, validation: 0.1 });
    // Key order in the file does not change names.
    const swapped = await planText(SWEEP('{ seed: [1, 2], validation: [0.1, 0.2] }'));
    expect(swapped.stages.map((s) => s.name).sort()).toEqual([...names].sort());
  });

  it('selects a variant group with name[*]', async () => {
    const p = await planText(SWEEP('{ seed: [1, 2] }'));
    expect([...selectTargets(p, ['flat[*]']).names].filter((n) => n.startsWith('flat'))).toHaveLength(2);
  });

  it('rejects empty lists, unknown params and type mismatches with the YAML line', async () => {
    expect((await problems(SWEEP('{ seed: [] }'))).join('\n')).toMatch(/p\.yaml:7:\d+: error: "stages\.split\.matrix\.seed" must NOT have fewer than 1 items/);
    expect((await problems(SWEEP('{ sed: [1] }'))).join('\n')).toMatch(/p\.yaml:7:\d+: error: stage "split\[sed=1\]" params: unknown key "sed"\. Did you mean "seed"\?/);
    expect((await problems(SWEEP('{ seed: [one] }'))).join('\n')).toMatch(/p\.yaml:7:\d+: error: stage "split\[seed=one\]" params: "seed" must be integer/);
  });
});

describe('search sweeps', () => {
  const SEARCH = (search: string, extra = ''): string => `stages:
  load: { kind: load }
  norm: { kind: normalize, inputs: { data: load } }
  flat: { kind: flatten, inputs: { data: norm } }
  split: { kind: split, inputs: { data: flat } }
  train:
    kind: train
    inputs: { data: split }
    params: { model: logistic-regression, epochs: 2 }
    search:
${search}
${extra}  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
  best: { kind: select, inputs: { candidates: "train[*]" }, params: { metric: val_accuracy } }
  report: { kind: report, inputs: { trainings: ["train[*]"], evaluations: ["evaluate[*]"] } }
`;
  const SPACE = `      strategy: random
      samples: 3
      space:
        learning_rate: { min: 0.0001, max: 0.01, log: true }
        l2: [0, 0.01]`;

  it('expands into variants that single-input dependents follow and list inputs collect', async () => {
    const p = await planText(SEARCH(SPACE));
    const trains = p.stages.filter((s) => s.group === 'train');
    expect(trains).toHaveLength(3);
    for (const t of trains) {
      expect(t.name).toBe(`train[l2=${JSON.stringify(t.variant?.['l2'])},learning_rate=${JSON.stringify(t.variant?.['learning_rate'])}]`);
      expect(t.params).toMatchObject({ model: 'logistic-regression', epochs: 2, ...t.variant });
      expect(t.provenance['learning_rate']).toEqual({ source: 'sweep', path: ['stages', 'train', 'search', 'space', 'learning_rate'] });
      expect(p.dependencies.get(t.name.replace(/^train/, 'evaluate'))).toEqual(expect.arrayContaining([t.name, 'split']));
    }
    expect(p.byName.get('best')?.inputs['candidates']?.refs).toEqual(trains.map((t) => t.name));
    expect(p.byName.get('report')?.inputs['evaluations']?.refs).toHaveLength(3);
    // The default seed is the schema's (0): writing it changes nothing.
    const seeded = await planText(SEARCH(`${SPACE}
      seed: 0`));
    expect(seeded.stages.map((s) => s.name)).toEqual(p.stages.map((s) => s.name));
  });

  it('refuses bad blocks at their YAML line', async () => {
    const bad = async (search: string, extra = ''): Promise<string> => (await problems(SEARCH(search, extra))).join('\n');
    expect(await bad(SPACE.replace('random', 'randon'))).toMatch(/p\.yaml:11:17: error: "stages\.train\.search\.strategy" must be one of "random", "asha"\. Did you mean "random"\?/);
    expect(await bad(SPACE.replace('min: 0.0001, max: 0.01', 'min: 0.1, max: 0.01'))).toMatch(/p\.yaml:14:31: error: stage "train" search space "learning_rate": min 0\.1 is greater than max 0\.01/);
    expect(await bad(SPACE.replace('min: 0.0001', 'min: 0'))).toMatch(/p\.yaml:14:31: error: stage "train" search space "learning_rate": log: true needs min > 0, got 0/);
    expect(await bad(SPACE.replace('samples: 3', 'samples: 0'))).toMatch(/p\.yaml:12:16: error: "stages\.train\.search\.samples" must be >= 1/);
    expect(await bad(SPACE.replace('samples: 3', 'samples: 5000'))).toMatch(/p\.yaml:12:16: error: stage "train" search expands to 5,000 variants, more than the limit of 1,000/);
    expect(await bad(SPACE.replace('[0, 0.01]', '[]'))).toMatch(/p\.yaml:15:13: error: "stages\.train\.search\.space\.l2" must NOT have fewer than 1 items/);
    expect(await bad(SPACE, '    matrix: { epochs: [1, 2] }\n')).toMatch(/p\.yaml:10:5: error: stage "train" declares both matrix: and search:; a stage sweeps one way/);
    // Checked against the stage's schema like a matrix key, and said once, not once per trial.
    const unknown = await bad(SPACE.replace('l2:', 'l3:'));
    expect(unknown.match(/unknown key "l3"/g)).toHaveLength(1);
    expect(unknown).toMatch(/p\.yaml:15:9: error: stage "train\[.*\]" params: unknown key "l3"\. Did you mean "l2"\?/);
  });

  it('asha is checked, then refused: it never runs as some other strategy', async () => {
    const asha = `${SPACE.replace('random', 'asha')}\n      resource: epochs\n      min: 1\n      max: 9\n      metric: val_accuracy`;
    const text = (await problems(SEARCH(asha))).join('\n');
    expect(text).toMatch(/p\.yaml:11:17: error: stage "train" uses search strategy asha, whose execution is not available yet/);
    expect(text.match(/error:/g)).toHaveLength(1);
    const wrong = (await problems(SEARCH(asha.replace('epochs', 'momentum').replace('val_accuracy', 'val_los')))).join('\n');
    expect(wrong).toMatch(/asha resource "momentum" of train does not accept min 1 and max 9/);
    expect(wrong).toMatch(/asha metric "val_los" is not reported by train\. Did you mean "val_loss"\?/);
  });
});

describe('Plan is opaque', () => {
  it('only plan.ts makes one: a copy of a real plan with its brand dropped is not a Plan (checked by tsc)', async () => {
    const real = await planText('stages:\n  load: { kind: load }\n');
    const { pipeline, stages, byName, dependencies, dependents, priority } = real;
    const graph = { pipeline, stages, byName, dependencies, dependents, priority };
    // @ts-expect-error a hand-built graph lacks the brand, so the executor cannot be handed one
    const handBuilt: Plan = graph;
    expect(handBuilt.stages.map((s) => s.name)).toEqual(['load']);
    // withUserCode keeps the graph and refuses stages that are not the planned ones.
    expect(withUserCode(real, real.stages, []).stages).toEqual(real.stages);
    expect(() => withUserCode(real, [], [])).toThrow(/not the planned ones/);
  });
});

describe('the shipped pipelines', () => {
  const root = join(import.meta.dirname, '..', '..', 'pipelines');
  const files = readdirSync(root).filter((f) => f.endsWith('.yaml')).sort();

  it.each(files)('pipelines/%s plans without a diagnostic', async (file) => {
    const planned = plan(await loadPipeline(join(root, file), { overrides: [], isManyInput }), STAGES);
    expect(planned.stages.length).toBeGreaterThan(0);
  });
});
