import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickExamples } from '../../stages/report/gradcam.js';
import { matchTrainings } from '../../stages/report/load.js';
import { buildReport, report } from '../../stages/report.js';
import { StageInputError } from '../../stages/types.js';
import type { InputArtifact, StageContext } from '../../stages/types.js';
import { artifact, buildFixtures, EVIL, type Fixtures } from './fixtures.js';

let root: string;
let fx: Fixtures;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pipe-report-'));
  fx = await buildFixtures(root);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const full = () => ({ inspect: fx.inspect, evaluations: fx.evaluations, trainings: fx.trainings, explanations: fx.explanations, robustness: fx.robustness, data: fx.data });
const sectionIds = (html: string) => [...html.matchAll(/<section id="([^"]+)"/g)].map((m) => m[1]);
/** The figure specs from the JSON data block. */
const figures = (html: string): { id: string; data: { type: string }[] }[] => {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  return (JSON.parse(m![1]!) as { figures: { id: string; data: { type: string }[] }[] }).figures;
};

describe('report', () => {
  it('renders every section when every input is given', async () => {
    const html = await buildReport(full(), { title: 'Quick' });
    expect(sectionIds(html)).toEqual(['dataset', 'comparison', 'model-0', 'model-1', 'gradcam', 'robustness', 'photos', 'facts']);
    const ids = figures(html).map((f) => f.id);
    expect(ids).toEqual([
      'fig-dataset-classes',
      'fig-dataset-histogram',
      'fig-compare-accuracy',
      'fig-compare-f1',
      'fig-compare-fit',
      'fig-compare-speed',
      'fig-model-0-confusion',
      'fig-model-1-curves',
      'fig-model-1-confusion',
      'fig-robustness',
    ]);
    for (const id of ids) expect(html).toContain(`id="${id}"`);
    // Sample grid, misclassified examples and Grad-CAM triplets are inline PNGs.
    expect(html).toContain('id="dataset-samples"');
    expect(html).toContain('Most confident mistakes');
    expect(html.match(/<figure class="triplet/g)).toHaveLength(6);
    expect(html).toContain('Mean Grad-CAM per class');
    // Log-scale histogram, curves only for the iterative model.
    expect(JSON.stringify(figures(html).find((f) => f.id === 'fig-dataset-histogram'))).toContain('"type":"log"');
    expect(html).toContain('No training curves: the model is not trained iteratively.');
    // Plotly is inlined: no external scripts or stylesheets.
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
    expect(html.length).toBeGreaterThan(4_000_000);
    expect(html.length).toBeLessThan(10_000_000);
  });

  it('leaves out sections whose inputs are absent', async () => {
    const onlyInspect = await buildReport({ inspect: fx.inspect }, {});
    expect(sectionIds(onlyInspect)).toEqual(['dataset', 'facts']);
    expect(onlyInspect).toContain('<title>Pipeline report</title>');

    const onlyEvals = await buildReport({ evaluations: fx.evaluations }, {});
    expect(sectionIds(onlyEvals)).toEqual(['comparison', 'model-0', 'model-1', 'facts']);
    expect(figures(onlyEvals).some((f) => f.id.endsWith('-curves'))).toBe(false);
    expect(onlyEvals).not.toContain('Most confident mistakes');

    const empty = await buildReport({}, {});
    expect(sectionIds(empty)).toEqual([]);
    expect(empty).toContain('This report has no inputs');
  });

  it('shows accuracy per model and perturbation, and photo examples with what the model saw and its top 3', async () => {
    const html = await buildReport({ robustness: fx.robustness, evaluations: fx.evaluations }, {});
    const heatmap = figures(html).find((f) => f.id === 'fig-robustness') as unknown as { data: { type: string; x: string[]; y: string[]; z: (number | null)[][] }[] };
    expect(heatmap.data[0]!.type).toBe('heatmap');
    expect(heatmap.data[0]!.x).toEqual(['clean', 'brightness', 'inversion', 'noise', 'photos']);
    expect(heatmap.data[0]!.y).toEqual(['cnn', 'logistic-regression']);
    expect(heatmap.data[0]!.z[0]).toEqual([0.83, 0.664, 0.498, 0.332, 0.166]);
    const table = /<table class="data sortable" id="robustness-table">[\s\S]*?<\/table>/.exec(html)![0];
    expect(table).toContain('<th data-col="8" tabindex="0" aria-sort="none">clean − worst</th>');
    // cnn: clean 0.83, worst 0.166 (photos), so it lost 0.664.
    expect(table).toContain('<td class="num" data-sort="0.166">0.1660</td><td class="num" data-sort="0.664">0.6640</td></tr>');
    // 3 examples per model, each three inline PNGs and a top 3 named with the evaluations' classes (escaped).
    const photos = html.slice(html.indexOf('<section id="photos">'));
    expect(photos.match(/<figure class="photo/g)).toHaveLength(6);
    expect(photos.match(/<img [^>]*src="data:image\/png;base64,/g)).toHaveLength(18);
    expect(photos.match(/<ol class="top3">(<li[^>]*>[^<]*<\/li>){3}<\/ol>/g)).toHaveLength(6);
    expect(photos).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 25.0%');
  });

  it('refuses a robustness artifact with a missing or malformed field, naming the file and the field', async () => {
    const broken = async (name: string, file: string, edit: (v: Record<string, unknown>) => void) => {
      const src = fx.robustness[0]!;
      const dir = join(root, name);
      await cp(src.dir, dir, { recursive: true });
      const value = JSON.parse(await readFile(join(dir, file), 'utf8')) as Record<string, unknown>;
      edit(value);
      await writeFile(join(dir, file), JSON.stringify(value));
      return artifact(dir, name, 'robustness', {}, {});
    };
    const noAccuracy = await broken('r-acc', 'robustness.json', (v) => delete (v['results'] as Record<string, unknown>[])[1]!['accuracy']);
    const err = await buildReport({ robustness: [noAccuracy] }, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageInputError);
    expect((err as Error).message).toBe('r-acc/robustness.json: results[1].accuracy must be a number');
    const noModel = await broken('r-model', 'robustness.json', (v) => delete v['model']);
    await expect(buildReport({ robustness: [noModel] }, {})).rejects.toThrow('r-model/robustness.json: model must be a non-empty string');
    const badTop = await broken('r-top', 'examples.json', (v) => ((v['examples'] as Record<string, unknown>[])[0]!['top'] = [{ class: 1, probability: 'high' }]));
    await expect(buildReport({ robustness: [badTop] }, {})).rejects.toThrow('r-top/examples.json: examples[0].top[0].probability must be a number');
    const lostFile = await broken('r-file', 'examples.json', (v) => (((v['examples'] as Record<string, unknown>[])[2]!['files'] as Record<string, string>)['seen'] = 'examples/9-seen.png'));
    await expect(buildReport({ robustness: [lostFile] }, {})).rejects.toThrow('r-file/examples.json: examples[2].files.seen must be a file of the artifact (examples/9-seen.png is not one)');
  });

  it('escapes user strings in HTML, JSON data and Plotly labels', async () => {
    const html = await buildReport(full(), { title: '<b>My</b> "report"', description: 'a & b <img src=x onerror=alert(1)>' });
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts).toEqual(['<script type="application/json" id="report-data">', '<script type="application/json" id="pipe-timings">', '<script>', '<script>']);
    expect(html).not.toContain(EVIL);
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('<title>&lt;b&gt;My&lt;/b&gt; &quot;report&quot;</title>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('Ankle &amp; boot');
    // In the JSON block the class name is entity-escaped for Plotly and `<` never appears raw.
    const block = /id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(block).not.toContain('<');
    const confusion = figures(html).find((f) => f.id === 'fig-model-0-confusion') as unknown as { data: { x: string[] }[] };
    expect(confusion.data[0]!.x[2]).toBe('&lt;script&gt;alert("x")&lt;/script&gt;');
  });

  it('is deterministic: same inputs, same bytes', async () => {
    const a = await buildReport(full(), { title: 'Quick' });
    const b = await buildReport(full(), { title: 'Quick' });
    expect(a === b).toBe(true);
  });

  it('pairs evaluations with trainings by content hash, then model name', async () => {
    const matches = matchTrainings(
      await Promise.all(fx.evaluations.map(async (e) => ({ report: JSON.parse(await readFile(e.path('report.json'), 'utf8')) as { model: string; model_content_hash?: string } }))),
      fx.trainings,
    );
    expect(matches.map((m) => [m?.training.stage, m?.by])).toEqual([
      ['train-lr', 'model name'],
      ['train-cnn', 'content hash'],
    ]);
    const renamed = (a: InputArtifact, stage: string, model: string): InputArtifact => ({ ...a, stage, params: { model }, metrics: {} });
    // Two trainings of one model and no hashes: ambiguous by name, so position decides.
    const two = [renamed(fx.trainings[0]!, 't1', 'cnn'), renamed(fx.trainings[0]!, 't2', 'cnn')];
    const byPos = matchTrainings([{ report: { model: 'cnn' } }, { report: { model: 'cnn' } }], two);
    expect(byPos.map((m) => [m?.training.stage, m?.by])).toEqual([
      ['t1', 'position'],
      ['t2', 'position'],
    ]);
    expect(matchTrainings([{ report: { model: 'mlp' } }], [renamed(fx.trainings[0]!, 't', 'cnn')])).toEqual([undefined]);
  });

  it('picks Grad-CAM examples round-robin over classes when there are too many', () => {
    const labels = [0, 0, 0, 1, 1, 1, 2, 2, 2];
    expect(pickExamples(labels, 4)).toEqual([0, 1, 3, 6]);
    expect(pickExamples(labels, 20)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(pickExamples(labels, 0)).toEqual([]);
    const html = buildReport({ explanations: fx.explanations }, { gradcam_examples: 2 });
    return expect(html.then((h) => h.match(/<figure class="triplet/g)?.length)).resolves.toBe(2);
  });

  it('runs as a stage and writes report.html', async () => {
    const outDir = join(root, 'out');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(outDir, { recursive: true });
    const logs: string[] = [];
    const ctx: StageContext = {
      stage: 'report',
      params: { title: 'Stage run' },
      inputs: { inspect: fx.inspect },
      inputLists: { evaluations: fx.evaluations },
      outDir,
      signal: new AbortController().signal,
      threads: 1,
      external: { files: {} },
      progress: () => {},
      log: (m) => logs.push(m),
    };
    const result = await report.run(ctx);
    const html = await readFile(join(outDir, 'report.html'), 'utf8');
    expect(result.metrics?.['bytes']).toBe(Buffer.byteLength(html));
    expect(sectionIds(html)).toEqual(['dataset', 'comparison', 'model-0', 'model-1', 'facts']);
    expect(report.publish).toEqual({ file: 'report.html', dir: 'reports', ext: '.html' });
  });
});

describe('report timings', () => {
  it('the artifact holds placeholders; publishing fills them from the manifests', async () => {
    const { fillTimings, TIMINGS_PLACEHOLDER, timingMetrics } = await import('../../stages/report/timings.js');
    const html = await buildReport(full(), { title: 't' });
    // No wall-clock figure is baked into the artifact: the block is empty and cells show a dash.
    expect(html).toContain(TIMINGS_PLACEHOLDER);
    expect(html).toMatch(/<span class="timing" data-stage="[^"]+" data-metric="fit_s"/);
    expect(timingMetrics({ fit_s: 1.5, images_per_s: 900, accuracy: 0.9, epoch_s: [1, 2], model: 'x' })).toEqual({ fit_s: 1.5, images_per_s: 900, epoch_s: [1, 2] });
    const filled = fillTimings(html, { 'evaluate-cnn': { fit_s: 19.4 } });
    expect(filled).not.toContain(TIMINGS_PLACEHOLDER);
    expect(filled).toContain('<script type="application/json" id="pipe-timings">{"evaluate-cnn":{"fit_s":19.4}}</script>');
    expect(filled.length - html.length).toBe('{"evaluate-cnn":{"fit_s":19.4}}'.length - 2);
  });
});
