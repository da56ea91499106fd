/**
 * The pipeline graph: laid out by dagre once per shape (stage names and edges), then updated in
 * place as states and progress change, so live updates never move a node under the pointer.
 */
import type { GraphPayload, GraphStage, UiProgress } from '../api-types.js';
import { escapeHtml, html } from './escape.js';
import { dagre } from './vendor.js';

const NODE_W = 180;
const NODE_H = 38;
const SVG = 'http://www.w3.org/2000/svg';
const STATES = ['fresh', 'stale', 'never-run', 'queued', 'running', 'failed'] as const;

export class GraphView {
  private shape = '';
  private svg: SVGSVGElement | undefined;
  private readonly nodes = new Map<string, SVGGElement>();
  private selected: string | undefined;

  constructor(
    private readonly container: HTMLElement,
    private readonly onPick: (stage: string) => void,
  ) {}

  render(graph: GraphPayload, selected: string | undefined): void {
    this.selected = selected;
    if (graph.error !== undefined) {
      this.shape = '';
      this.container.innerHTML = html`<h2>${graph.file}</h2><p class="error" id="graph-error">${graph.error}</p>`.text;
      return;
    }
    const shape = JSON.stringify(graph.stages.map((s) => [s.name, s.deps]));
    if (shape !== this.shape || !this.svg?.isConnected) this.layout(graph, shape);
    for (const stage of graph.stages) this.update(stage);
    const counts = STATES.map((s) => [s, graph.stages.filter((x) => x.state === s).length] as const).filter(([, n]) => n > 0);
    const summary = this.container.querySelector('#graph-summary');
    if (summary) summary.textContent = `${graph.pipeline}: ${counts.map(([s, n]) => `${n} ${s}`).join(', ')}${graph.liveRun ? ` · run ${graph.liveRun} in progress` : ''}`;
  }

  private layout(graph: GraphPayload, shape: string): void {
    this.shape = shape;
    const lib = dagre();
    const g = new lib.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 8, ranksep: 40, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const s of graph.stages) g.setNode(s.name, { width: NODE_W, height: NODE_H });
    for (const s of graph.stages) for (const d of s.deps) g.setEdge(d, s.name);
    lib.layout(g);
    const size = g.graph();
    const legend = STATES.map((s) => html`<span><i class="swatch-${s}" style="background:var(--${s === 'never-run' ? 'never' : s})"></i>${s}</span>`);
    this.container.innerHTML = html`<div class="controls"><strong id="graph-summary"></strong><span class="legend muted">${legend}</span></div>`.text;
    const svg = document.createElementNS(SVG, 'svg');
    svg.classList.add('graph');
    // Scaled down to the view's width (never up): the whole pipeline is in sight at once.
    const [w, h] = [size.width ?? 400, size.height ?? 300];
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.style.width = `min(100%, ${w}px)`;
    svg.style.height = 'auto';
    const edges = g
      .edges()
      .map((e) => `<path class="edge" d="M${g.edge(e).points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join('L')}" marker-end="url(#arrow)"></path>`)
      .join('');
    svg.innerHTML = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#8c959f"></path></marker></defs>${edges}`;
    this.nodes.clear();
    for (const s of graph.stages) {
      const n = g.node(s.name);
      const node = document.createElementNS(SVG, 'g');
      node.classList.add('node');
      node.dataset['stage'] = s.name;
      node.setAttribute('transform', `translate(${(n.x - NODE_W / 2).toFixed(1)},${(n.y - NODE_H / 2).toFixed(1)})`);
      node.setAttribute('tabindex', '0');
      node.setAttribute('role', 'button');
      // Built as markup with every value escaped: stage names come from the pipeline file.
      node.innerHTML = `<title>${escapeHtml(s.name)}</title><rect width="${NODE_W}" height="${NODE_H}"></rect><text x="8" y="15" class="name">${escapeHtml(s.name.length > 28 ? `${s.name.slice(0, 27)}…` : s.name)}</text><text x="8" y="29" class="state muted"></text><rect class="bar" x="0" y="${NODE_H - 4}" height="4" width="0"></rect>`;
      node.addEventListener('click', () => this.onPick(s.name));
      node.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') this.onPick(s.name);
      });
      svg.append(node);
      this.nodes.set(s.name, node);
    }
    this.container.append(svg);
    this.svg = svg;
  }

  private update(stage: GraphStage): void {
    const node = this.nodes.get(stage.name);
    if (!node) return;
    for (const s of STATES) node.classList.toggle(`state-${s}`, s === stage.state);
    node.classList.toggle('selected', stage.name === this.selected);
    node.dataset['state'] = stage.state;
    const title = node.querySelector('title');
    if (title) title.textContent = [stage.name, stage.state, ...stage.reasons, stage.error ?? ''].filter(Boolean).join('\n');
    this.setProgress(stage.name, stage.state, stage.progress, stage.reasons[0]);
  }

  /** A progress message: only the bar and the label move. */
  progress(stage: string, progress: UiProgress): void {
    const node = this.nodes.get(stage);
    if (!node || node.dataset['state'] !== 'running') return;
    this.setProgress(stage, 'running', progress, undefined);
  }

  private setProgress(stage: string, state: string, progress: UiProgress | undefined, reason: string | undefined): void {
    const node = this.nodes.get(stage);
    if (!node) return;
    const label = node.querySelector('text.state');
    const bar = node.querySelector('rect.bar');
    const fraction = progress && progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;
    if (label) {
      label.textContent =
        state === 'running' && progress
          ? `running ${Math.round(fraction * 100)}%${progress.label ? ` ${progress.label}` : ''}`
          : state === 'stale' && reason
            ? `stale: ${reason.length > 24 ? `${reason.slice(0, 23)}…` : reason}`
            : state;
    }
    node.dataset['progress'] = state === 'running' && progress ? String(fraction) : '';
    bar?.setAttribute('width', state === 'running' ? String((NODE_W * fraction).toFixed(1)) : '0');
  }
}
