import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byStatus, makeRig, ROOT, type Rig } from './rig.js';

describe('pipelines/quick.yaml on the full data', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  it('runs every data stage, reproduces the reference statistics, then is fully cached', async () => {
    const file = join(ROOT, 'pipelines', 'quick.yaml');
    const first = await rig.pipe(['run', file, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const events = rig.events(first);
    expect(byStatus(events, 'stage-failed')).toEqual([]);
    const inspect = events.find((e) => e.type === 'stage-done' && e['stage'] === 'inspect') as unknown as { metrics: Record<string, number> };
    expect(inspect.metrics['train_mean']?.toFixed(2)).toBe('72.94');
    expect(inspect.metrics['train_median']).toBe(0);
    expect(inspect.metrics['train_std']?.toFixed(2)).toBe('90.02');
    const show = JSON.parse((await rig.pipe(['show', 'split-images', '--json'])).stdout) as { files: Record<string, { bytes: number }> };
    // 54000 x 28 x 28 x 1 float32 + 128-byte header.
    expect(show.files['x_train.npy']?.bytes).toBe(54000 * 784 * 4 + 128);
    expect(show.files['x_val.npy']?.bytes).toBe(6000 * 784 * 4 + 128);
    const second = await rig.pipe(['run', file, '--json']);
    expect(byStatus(rig.events(second), 'stage-done')).toEqual([]);
    expect(byStatus(rig.events(second), 'stage-cached').length).toBe(events.filter((e) => e.type === 'stage-done').length);
  });

  // The data stages on all 70,000 images: the training's determinism across processes and stores is
  // checked on few rows by the queue and remote tests, so the second store stops at the splits.
  it('gives identical bytes for identical work: a second empty store gets the same content hashes for the data stages', async () => {
    const file = join(ROOT, 'pipelines', 'quick.yaml');
    const other = await rig.pipe(['run', file, '--json', '--store', 'other-store', '--stage', 'split-images', '--stage', 'split-flat']);
    expect(other.code, other.stderr).toBe(0);
    const hashes = async (store: string): Promise<Record<string, string>> => {
      const listed = JSON.parse((await rig.pipe(['ls', '--json', '--store', store])).stdout) as Array<{ stage: string; dir: string }>;
      const out: Record<string, string> = {};
      for (const a of listed) out[a.stage] = (JSON.parse(await readFile(join(a.dir, 'manifest.json'), 'utf8')) as { content_hash: string }).content_hash;
      return out;
    };
    const first = await hashes('.pipe');
    expect(Object.keys(first).sort()).toEqual(['evaluate-logistic-regression', 'flatten', 'inspect', 'load', 'normalize', 'report', 'reshape', 'split-flat', 'split-images', 'train-logistic-regression']);
    const dataStages = ['flatten', 'load', 'normalize', 'reshape', 'split-flat', 'split-images'];
    expect(await hashes('other-store')).toEqual(Object.fromEntries(dataStages.map((stage) => [stage, first[stage]])));
    // The published report still shows this run's timings: filled in from the manifests.
    const published = await readFile(join(rig.dir, 'reports', 'quick.html'), 'utf8');
    const block = /id="pipe-timings">([^<]*)<\/script>/.exec(published)?.[1] ?? '{}';
    const timings = JSON.parse(block) as Record<string, Record<string, number>>;
    expect(timings['train-logistic-regression']?.['fit_s']).toBeGreaterThan(0);
    expect(timings['evaluate-logistic-regression']?.['images_per_s']).toBeGreaterThan(0);
  });

  it('shows the graph as text, mermaid and dot', async () => {
    const file = join(ROOT, 'pipelines', 'quick.yaml');
    expect((await rig.pipe(['dag', file])).stdout).toContain('└─ split-images (split)');
    expect((await rig.pipe(['dag', file, '--format', 'mermaid'])).stdout).toContain('s_reshape --> s_split_images');
    expect((await rig.pipe(['dag', file, '--format', 'dot'])).stdout).toContain('"reshape" -> "split-images";');
    const render = (await rig.pipe(['config', 'render', file])).stdout;
    expect(render).toMatch(/seed: 42 {2}# set in .*quick\.yaml:\d+/);
    expect(render).toMatch(/stratify: true {2}# default/);
  });
});
