/**
 * `pipe ui`'s server without a browser: its JSON endpoints on a synthetic store (bench/ui-store.ts,
 * nothing trained), the download endpoint refusing anything a manifest does not name, read-only
 * and host checks, the live stream, and the escaping every page string goes through.
 */
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get, request } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../artifacts/npy.js';
import { buildSyntheticStore, type SyntheticStore } from '../../bench/ui-store.js';
import { escapeHtml, html } from '../../runner/ui/client/escape.js';
import { npySummary } from '../../runner/ui/npy-summary.js';
import { pageHtml } from '../../runner/ui/page.js';
import { startUi, type UiServer } from '../../runner/ui/server.js';

const EVIL = '<img src=x onerror="window.__pwned=1">&\'"';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function fetchRaw(url: string, options: { method?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((done, fail) => {
    const target = new URL(url);
    const req = request({ hostname: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: options.method ?? 'GET', headers: options.host ? { host: options.host } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('pipe ui server', () => {
  let dir: string;
  let synthetic: SyntheticStore;
  let server: UiServer;
  const api = (path: string, query: Record<string, string> = {}): Promise<Reply> => fetchRaw(`${server.url}${path.replace(/^\//, '')}${Object.keys(query).length ? `?${new URLSearchParams(query).toString()}` : ''}`);
  const json = async <T>(path: string, query: Record<string, string> = {}): Promise<T> => {
    const reply = await api(path, query);
    expect(reply.status, reply.body).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    return JSON.parse(reply.body) as T;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(resolve('test/.tmp'), 'ui-server-'));
    synthetic = await buildSyntheticStore(dir, { variants: 20, artifacts: 60, evil: EVIL });
    server = await startUi({ files: [synthetic.pipeline], root: synthetic.store, flags: {}, host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves every stage of the pipeline with its state', async () => {
    const { pipelines } = await json<{ pipelines: { file: string; pipeline: string; stages: { name: string; state: string; deps: string[] }[] }[] }>('/api/pipelines');
    expect(pipelines).toHaveLength(1);
    const [graph] = pipelines;
    expect(graph!.pipeline).toBe('synthetic');
    expect(graph!.stages).toHaveLength(44);
    expect(new Set(graph!.stages.map((s) => s.state))).toEqual(new Set(['fresh']));
    expect(graph!.stages.find((s) => s.name === 'flatten')?.deps).toEqual(['normalize']);
  });

  it('serves a stage panel: params with their sources, the artifact, hostile strings as data', async () => {
    const stage = await json<{ params: { name: string; value: unknown; source: string; where: string }[]; artifact: { key: string; metrics: Record<string, unknown>; files: { name: string }[]; keyParams: Record<string, unknown> }; current: boolean }>('/api/stage', { file: synthetic.pipeline, stage: 'split' });
    expect(stage.current).toBe(true);
    expect(stage.params.find((p) => p.name === 'validation')).toMatchObject({ value: 0.2, source: 'stage' });
    expect(stage.params.find((p) => p.name === 'seed')).toMatchObject({ source: 'default' });
    // JSON carries the string as it is; the page escapes it where it shows it (see below).
    expect(stage.artifact.metrics['note']).toBe(EVIL);
    const variant = await json<{ params: { name: string; source: string }[] }>('/api/stage', { file: synthetic.pipeline, stage: 'train[dropout=0.05,learning_rate=0.001]' });
    expect(variant.params.find((p) => p.name === 'dropout')?.source).toBe('sweep');
    expect((await api('/api/stage', { file: synthetic.pipeline, stage: 'nope' })).status).toBe(404);
    expect((await api('/api/stage', { file: 'other.yaml', stage: 'split' })).status).toBe(404);
    expect((await api('/api/stage', { file: synthetic.pipeline })).status).toBe(400);
  });

  it("serves the sweep as pipe compare computes it, and two variants' diff", async () => {
    const sweep = await json<{ rows: { variant: string; state: string; metrics: Record<string, number> }[]; paramKeys: string[]; metricKeys: string[] }>('/api/sweep', { file: synthetic.pipeline });
    expect(sweep.rows).toHaveLength(20);
    expect(sweep.paramKeys).toEqual(['dropout', 'learning_rate']);
    expect(sweep.metricKeys).toEqual(expect.arrayContaining(['train.val_accuracy', 'evaluate.accuracy']));
    expect(new Set(sweep.rows.map((r) => r.state))).toEqual(new Set(['done']));
    const [a, b] = sweep.rows;
    const diff = await json<{ params: { name: string }[]; metrics: { name: string; a: number; b: number; delta: number }[] }>('/api/diff', { file: synthetic.pipeline, a: a!.variant, b: b!.variant });
    expect(diff.params.length).toBeGreaterThan(0);
    const accuracy = diff.metrics.find((m) => m.name === 'evaluate.accuracy')!;
    expect(accuracy.delta).toBeCloseTo(b!.metrics['evaluate.accuracy']! - a!.metrics['evaluate.accuracy']!);
  });

  it("lists every artifact and marks what gc would delete (the retired pipeline's)", async () => {
    const { artifacts, gcNote } = await json<{ artifacts: { pipeline: string; collectable: boolean; bytes: number }[]; gcNote: string }>('/api/artifacts');
    expect(artifacts).toHaveLength(60);
    expect(artifacts.filter((a) => a.collectable).every((a) => a.pipeline === 'retired')).toBe(true);
    expect(artifacts.filter((a) => a.collectable)).toHaveLength(16);
    expect(gcNote).toMatch(/would delete 16 artifact/);
  });

  it('downloads only files a manifest names, and never serves stored markup as a page', async () => {
    const stage = await json<{ artifact: { key: string; files: { name: string; bytes: number }[] } }>('/api/stage', { file: synthetic.pipeline, stage: 'split' });
    const key = stage.artifact.key;
    const ok = await api('/api/file', { key, name: 'metrics.json' });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-disposition']).toMatch(/^attachment/);
    expect(JSON.parse(ok.body)).toMatchObject({ note: EVIL });
    const evilName = stage.artifact.files.find((f) => f.name.startsWith('notes/'))!.name;
    expect((await api('/api/file', { key, name: evilName })).body).toBe(`${EVIL}\n`);
    // A stored HTML file downloads as bytes, even when asked inline.
    const page = await api('/api/file', { key, name: 'page.html', inline: '1' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('application/octet-stream');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    for (const name of ['../../../../../../etc/passwd', '/etc/passwd', 'manifest.json', '../manifest.json', 'notes/../metrics.json', './metrics.json', 'metrics.json/', '%2e%2e/metrics.json', '']) {
      const reply = await api('/api/file', { key, name });
      expect([400, 404], `${name}: ${reply.status}`).toContain(reply.status);
    }
    for (const bad of ['../../etc', key.slice(0, 12), `${key}/..`, 'x'.repeat(64)]) expect((await api('/api/file', { key: bad, name: 'metrics.json' })).status).toBe(400);
    expect((await api('/api/file', { key: '0'.repeat(64), name: 'metrics.json' })).status).toBe(404);
    // Raw paths, not URL-encoded by URLSearchParams.
    expect((await fetchRaw(`${server.url}api/file?key=${key}&name=../../../../etc/passwd`)).status).toBe(404);
    expect((await fetchRaw(`${server.url}app/../../../package.json`)).status).toBe(404);
    expect((await fetchRaw(`${server.url}vendor/..%2f..%2fpackage.json`)).status).toBe(404);
  });

  it('is read-only and answers only requests for its own address', async () => {
    const post = await fetchRaw(`${server.url}api/pipelines`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(JSON.parse(post.body).error).toMatch(/read-only/);
    expect((await fetchRaw(`${server.url}api/pipelines`, { method: 'DELETE' })).status).toBe(405);
    expect((await fetchRaw(`${server.url}api/pipelines`, { host: 'evil.example:80' })).status).toBe(421);
    expect((await fetchRaw(`${server.url}api/pipelines`, { host: `localhost:${new URL(server.url).port}` })).status).toBe(200);
  });

  it('pushes a new graph over server-sent events when the pipeline file changes', async () => {
    const message = new Promise<string>((done, fail) => {
      const req = get(`${server.url}api/events`, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
          const event = /event: graph\ndata: (.*)\n\n/.exec(text);
          if (event) {
            req.destroy();
            done(event[1]!);
          }
        });
        // The stream is open: now edit the file (a comment changes no stage, but the file changed).
        void appendFile(synthetic.pipeline, '# edited\n');
      });
      req.on('error', fail);
    });
    const graph = JSON.parse(await message) as { file: string; stages: unknown[] };
    expect(graph.file).toBe(synthetic.pipeline);
    expect(graph.stages).toHaveLength(44);
  });

  it("shows a live run's stages as it reports them: queued, running with progress, failed, then the store's state", async () => {
    type Stage = { name: string; state: string; progress?: { done: number; total: number }; error?: string };
    const split = async (): Promise<Stage> => (await json<{ pipelines: { stages: Stage[]; liveRun?: string }[] }>('/api/pipelines')).pipelines[0]!.stages.find((s) => s.name === 'split')!;
    /** Polls the server until `check` holds (the tail reads logs every 250 ms). */
    const poll = async <T>(get: () => Promise<T>, check: (value: T) => boolean): Promise<T> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const value = await get();
        if (check(value)) return value;
        if (Date.now() > deadline) throw new Error(`never reached the state wanted; last ${JSON.stringify(value)}`);
        await new Promise((done) => setTimeout(done, 50));
      }
    };
    const until = (check: (s: Stage) => boolean): Promise<Stage> => poll(split, check);
    // A run of this very process (so it counts as alive), written as runner/execute/event-log.ts does.
    const log = join(synthetic.store, 'runs', `2099-01-01T00-00-00-000Z-${process.pid}.events.ndjson`);
    const key = 'b'.repeat(64);
    const write = (event: Record<string, unknown>): Promise<void> => appendFile(log, `${JSON.stringify({ ...event, t: Date.now() })}\n`);
    await mkdir(join(synthetic.store, 'runs'), { recursive: true });
    await write({ type: 'run-start', pipeline: 'synthetic', stages: ['split'], jobs: 1, store: synthetic.store });
    await write({ type: 'stage-queued', stage: 'split', key, priority: 1 });
    await until((s) => s.state === 'queued');
    expect((await json<{ live: string[] }>('/api/runs')).live).toEqual([`2099-01-01T00-00-00-000Z-${process.pid}`]);
    await write({ type: 'stage-start', stage: 'split', key, reasons: [] });
    await write({ type: 'stage-progress', stage: 'split', done: 3, total: 4, label: 'splitting' });
    expect((await until((s) => s.state === 'running' && s.progress?.done === 3)).progress).toEqual({ done: 3, total: 4, label: 'splitting' });
    await write({ type: 'stage-failed', stage: 'split', seconds: 1, error: { reason: 'stage-input', message: `bad ${EVIL}` } });
    // Failed in this run, but the store still holds a fresh artifact for its key: fresh wins.
    await until((s) => s.state === 'fresh');
    await write({ type: 'run-end', seconds: 1, stages: [], interrupted: false });
    await poll(() => json<{ live: string[] }>('/api/runs'), (runs) => runs.live.length === 0);
    await rm(log);
  });

  it('tells never-run, stale and failed apart by the run history', async () => {
    const extra = join(dir, 'extra.yaml');
    await writeFile(
      extra,
      `name: extra
stages:
  load: { kind: load, params: { train_limit: 600, test_limit: 200 } }
  flat: { kind: reshape, inputs: { data: load } }
  split: { kind: split, inputs: { data: flat } }
  other: { kind: normalize, inputs: { data: load }, params: { method: standardize } }
`,
    );
    const at = new Date().toISOString();
    await mkdir(join(synthetic.store, 'runs'), { recursive: true });
    await writeFile(
      join(synthetic.store, 'runs', 'extra-run.json'),
      JSON.stringify({ id: 'extra-run', pipeline: 'extra', file: 'extra.yaml', argv: [], started_at: at, finished_at: at, interrupted: false, stages: { load: { status: 'cached' }, flat: { status: 'failed', error: `boom ${EVIL}` }, other: { status: 'ran' } } }),
    );
    const second = await startUi({ files: [extra], root: synthetic.store, flags: {}, host: '127.0.0.1', port: 0 });
    try {
      const reply = await fetchRaw(`${second.url}api/pipelines`);
      const [graph] = (JSON.parse(reply.body) as { pipelines: { stages: { name: string; state: string; error?: string; reasons: string[] }[] }[] }).pipelines;
      expect(graph, reply.body).toBeDefined();
      const by = new Map(graph!.stages.map((s) => [s.name, s]));
      expect(by.size, reply.body).toBe(4);
      expect(by.get('load')?.state).toBe('fresh');
      expect(by.get('flat')).toMatchObject({ state: 'failed', error: `boom ${EVIL}` });
      expect(by.get('split')?.state).toBe('never-run');
      expect(by.get('split')?.reasons[0]).toMatch(/upstream-stale/);
      expect(by.get('other')?.state).toBe('stale');
      // An edit that breaks the file: the graph carries the diagnostics, located, instead of stages.
      await writeFile(extra, (await readFile(extra, 'utf8')).replace('method: standardize', 'method: standard'));
      const deadline = Date.now() + 20_000;
      let broken: { error?: string; stages: unknown[] } | undefined;
      while (Date.now() < deadline) {
        broken = (JSON.parse((await fetchRaw(`${second.url}api/pipelines`)).body) as { pipelines: { error?: string; stages: unknown[] }[] }).pipelines[0];
        if (broken?.error !== undefined) break;
        await new Promise((done) => setTimeout(done, 50));
      }
      expect(broken?.error).toMatch(/extra\.yaml:6:\d+: error: stage "other" params: "method" must be one of/);
      expect(broken?.stages).toEqual([]);
    } finally {
      await second.close();
      await rm(join(synthetic.store, 'runs', 'extra-run.json'));
    }
  });

  it('summarises .npy files: dtype, shape and statistics', async () => {
    const file = join(dir, 'a.npy');
    await writeNpy(file, new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const summary = await npySummary(file, 128);
    expect(summary).toMatchObject({ dtype: 'float32', shape: [2, 3] });
    expect(summary.stats?.mean).toBeCloseTo(3.5);
    expect(summary.stats?.min).toBe(1);
    expect(summary.stats?.max).toBe(6);
    expect(await npySummary(file, 1 << 30)).toEqual({ dtype: 'float32', shape: [2, 3] });
  });

  it('escapes every interpolated string in page markup', () => {
    expect(escapeHtml(EVIL)).toBe('&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;&amp;&#39;&quot;');
    const cell = html`<td title="${EVIL}">${EVIL}</td>${[EVIL, html`<b>${EVIL}</b>`]}`.text;
    expect(cell).not.toMatch(/<img/);
    expect(cell).toContain('<b>&lt;img');
    expect(cell.match(/</g)).toHaveLength(4);
    const shell = pageHtml(`pipe ui · ${EVIL}.yaml`, ['main.js']);
    expect(shell).not.toContain('<img');
    expect(shell).toContain('<link rel="modulepreload" href="/app/main.js">');
  });
});
