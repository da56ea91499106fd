/**
 * The page's entry: the hash router (#/graph, #/runs, #/sweep, #/artifacts, each with its state in
 * the query: the pipeline file, the selected stage, the sweep's columns, sort and filter), and the
 * server-sent event stream that keeps the graph live.
 */
import type { GraphPayload, ProgressMessage } from '../api-types.js';
import { getJson } from './api.js';
import { renderArtifacts } from './artifacts-view.js';
import { html } from './escape.js';
import { GROUP_PREFIX, GraphView } from './graph-view.js';
import { renderRuns } from './runs-view.js';
import { renderGroupPanel, renderStagePanel } from './stage-panel.js';
import { SweepView, type SweepState } from './sweep-view.js';

type View = 'graph' | 'runs' | 'sweep' | 'artifacts';
const VIEWS: readonly View[] = ['graph', 'runs', 'sweep', 'artifacts'];

const view = document.querySelector<HTMLElement>('#view')!;
const panel = document.querySelector<HTMLElement>('#panel')!;
const picker = document.querySelector<HTMLSelectElement>('#pipeline')!;
const liveBadge = document.querySelector<HTMLElement>('#live')!;
const graphs = new Map<string, GraphPayload>();
let graphView: GraphView | undefined;
let sweepView: SweepView | undefined;
/** The selected stage's state when its panel was drawn: redrawn when the state changes. */
let panelState: string | undefined;

interface Route {
  view: View;
  query: URLSearchParams;
}

function route(): Route {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const name = VIEWS.find((v) => v === path) ?? 'graph';
  return { view: name, query: new URLSearchParams(query) };
}

function navigate(name: View, query: URLSearchParams, replace = false): void {
  const hash = `#/${name}${query.size ? `?${query.toString()}` : ''}`;
  if (replace) history.replaceState(null, '', hash);
  else location.hash = hash;
}

function currentFile(r: Route): string | undefined {
  const asked = r.query.get('file');
  return asked !== null && graphs.has(asked) ? asked : [...graphs.keys()][0];
}

function showGraph(r: Route, file: string): void {
  const graph = graphs.get(file);
  if (!graph) return;
  if (!graphView || !view.contains(document.querySelector('svg.graph')) || view.dataset['view'] !== 'graph') {
    view.dataset['view'] = 'graph';
    view.innerHTML = '';
    graphView = new GraphView(view, (stage) => {
      const q = new URLSearchParams(route().query);
      q.set('file', file);
      q.set('stage', stage);
      navigate('graph', q);
    });
  }
  const stage = r.query.get('stage') ?? undefined;
  graphView.render(graph, stage);
  if (stage?.startsWith(GROUP_PREFIX)) {
    panel.dataset['stage'] = '';
    renderGroupPanel(panel, graph, stage.slice(GROUP_PREFIX.length));
    return;
  }
  const selected = stage === undefined ? undefined : graph.stages.find((s) => s.name === stage);
  if (selected && (panel.dataset['stage'] !== `${file}\n${stage}` || panelState !== selected.state)) {
    panel.dataset['stage'] = `${file}\n${stage}`;
    panelState = selected.state;
    void renderStagePanel(panel, file, selected.name);
  } else if (!selected) {
    panel.classList.remove('open');
    panel.dataset['stage'] = '';
  }
}

async function show(): Promise<void> {
  const r = route();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('header nav a')) a.classList.toggle('active', a.dataset['view'] === r.view);
  const file = currentFile(r);
  if (file !== undefined && picker.value !== file) picker.value = file;
  if (r.view !== 'graph') {
    panel.classList.remove('open');
    panel.dataset['stage'] = '';
  }
  try {
    switch (r.view) {
      case 'graph':
        if (file === undefined) view.innerHTML = '<p>No pipeline files.</p>';
        else showGraph(r, file);
        break;
      case 'runs':
        view.dataset['view'] = 'runs';
        await renderRuns(view);
        break;
      case 'sweep': {
        view.dataset['view'] = 'sweep';
        if (file === undefined) break;
        const state: SweepState = { desc: r.query.get('desc') === '1', q: r.query.get('q') ?? '', ...(r.query.get('cols') ? { cols: (r.query.get('cols') ?? '').split(',') } : {}), ...(r.query.get('sort') ? { sort: r.query.get('sort') ?? '' } : {}) };
        sweepView = new SweepView(view, state, (s) => {
          const q = new URLSearchParams({ file });
          if (s.cols?.length) q.set('cols', s.cols.join(','));
          if (s.sort) q.set('sort', s.sort);
          if (s.desc) q.set('desc', '1');
          if (s.q) q.set('q', s.q);
          // replaceState: typing in the filter must not add a history entry per key, nor re-route.
          navigate('sweep', q, true);
        });
        await sweepView.load(file);
        break;
      }
      case 'artifacts':
        view.dataset['view'] = 'artifacts';
        await renderArtifacts(view);
        break;
    }
  } catch (error) {
    view.innerHTML = html`<p class="error">${(error as Error).message}</p>`.text;
  }
}

async function loadGraphs(): Promise<void> {
  const { pipelines } = await getJson<{ pipelines: GraphPayload[] }>('/api/pipelines');
  for (const g of pipelines) graphs.set(g.file, g);
  picker.innerHTML = pipelines.map((g) => html`<option value="${g.file}">${g.pipeline || g.file} (${g.file})</option>`.text).join('');
}

function connect(): void {
  const events = new EventSource('/api/events');
  let lost = false;
  events.onopen = () => {
    liveBadge.textContent = 'live';
    // After a reconnect, what was missed is fetched whole.
    if (lost) void loadGraphs().then(show);
    lost = false;
  };
  events.onerror = () => {
    lost = true;
    liveBadge.textContent = 'reconnecting…';
  };
  events.addEventListener('graph', (e: MessageEvent<string>) => {
    const graph = JSON.parse(e.data) as GraphPayload;
    graphs.set(graph.file, graph);
    const r = route();
    if (r.view === 'graph' && currentFile(r) === graph.file) showGraph(r, graph.file);
  });
  events.addEventListener('progress', (e: MessageEvent<string>) => {
    const message = JSON.parse(e.data) as ProgressMessage;
    if (route().view === 'graph' && currentFile(route()) === message.file) graphView?.progress(message.stage, message.progress);
  });
  events.addEventListener('runs', () => {
    if (route().view === 'runs') void renderRuns(view);
  });
}

picker.addEventListener('change', () => {
  const r = route();
  navigate(r.view, new URLSearchParams({ file: picker.value }));
});
window.addEventListener('hashchange', () => void show());

await loadGraphs();
connect();
await show();
performance.mark('ui-interactive');
document.body.dataset['ready'] = '1';
