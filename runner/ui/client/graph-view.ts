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
/** A sweep with more variants than this is drawn as one node per stage group (its panel lists them). */
export const COLLAPSE_OVER = 8;
/** A group's state is its most urgent variant's. */
const URGENCY: readonly GraphStage['state'][] = ['failed', 'running', 'queued', 'stale', 'never-run', 'fresh'];

export const GROUP_PREFIX = 'group:';

/** The node a stage is drawn as: itself, or its group's node when the group is collapsed. */
export function nodeIds(graph: GraphPayload): Map<string, string> {
  const sizes = new Map<string, number>();
  for (const s of graph.stages) sizes.set(s.group, (sizes.get(s.group) ?? 0) + 1);
  return new Map(graph.stages.map((s) => [s.name, (sizes.get(s.group) ?? 0) > COLLAPSE_OVER ? `${GROUP_PREFIX}${s.group}` : s.name]));
}

interface DrawnNode {
  readonly id: string;
  readonly label: string;
  readonly members: GraphStage[];
}

function drawnNodes(graph: GraphPayload, ids: ReadonlyMap<string, string>): DrawnNode[] {
  const nodes = new Map<string, DrawnNode>();
  for (const s of graph.stages) {
    const id = ids.get(s.name) ?? s.name;
    let node = nodes.get(id);
    if (!node) nodes.set(id, (node = { id, label: id.startsWith(GROUP_PREFIX) ? s.group : s.name, members: [] }));
    node.members.push(s);
  }
  return [...nodes.values()];
}

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
    const ids = nodeIds(graph);
    const nodes = drawnNodes(graph, ids);
    const shape = JSON.stringify(graph.stages.map((s) => [s.name, s.deps]));
    if (shape !== this.shape || !this.svg?.isConnected) this.layout(nodes, ids, shape);
    for (const node of nodes) this.update(node);
    const counts = STATES.map((s) => [s, graph.stages.filter((x) => x.state === s).length] as const).filter(([, n]) => n > 0);
    const summary = this.container.querySelector('#graph-summary');
    if (summary) summary.textContent = `${graph.pipeline}: ${counts.map(([s, n]) => `${n} ${s}`).join(', ')}${graph.liveRun ? ` · run ${graph.liveRun} in progress` : ''}`;
  }

  private layout(nodes: readonly DrawnNode[], ids: ReadonlyMap<string, string>, shape: string): void {
    this.shape = shape;
    const lib = dagre();
    const g = new lib.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 8, ranksep: 40, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
    const edges = new Set<string>();
    for (const n of nodes) {
      for (const s of n.members) {
        for (const d of s.deps) {
          const from = ids.get(d) ?? d;
          if (from !== n.id && !edges.has(`${from}\n${n.id}`)) {
            edges.add(`${from}\n${n.id}`);
            g.setEdge(from, n.id);
          }
        }
      }
    }
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
    const paths = g
      .edges()
      .map((e) => `<path class="edge" d="M${g.edge(e).points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join('L')}" marker-end="url(#arrow)"></path>`)
      .join('');
    svg.innerHTML = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#8c959f"></path></marker></defs>${paths}`;
    this.nodes.clear();
    for (const s of nodes) {
      const n = g.node(s.id);
      const node = document.createElementNS(SVG, 'g');
      node.classList.add('node');
      node.dataset['stage'] = s.id;
      node.setAttribute('transform', `translate(${(n.x - NODE_W / 2).toFixed(1)},${(n.y - NODE_H / 2).toFixed(1)})`);
      node.setAttribute('tabindex', '0');
      node.setAttribute('role', 'button');
      // Built as markup with every value escaped: stage names come from the pipeline file.
      const label = s.id.startsWith(GROUP_PREFIX) ? `${s.label} ×${s.members.length}` : s.label;
      node.innerHTML = `<title>${escapeHtml(label)}</title><rect width="${NODE_W}" height="${NODE_H}"></rect><text x="8" y="15" class="name">${escapeHtml(label.length > 28 ? `${label.slice(0, 27)}…` : label)}</text><text x="8" y="29" class="state muted"></text><rect class="bar" x="0" y="${NODE_H - 4}" height="4" width="0"></rect>`;
      node.addEventListener('click', () => this.onPick(s.id));
      node.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') this.onPick(s.id);
      });
      svg.append(node);
      this.nodes.set(s.id, node);
    }
    this.container.append(svg);
    this.svg = svg;
  }

  private update(drawn: DrawnNode): void {
    const node = this.nodes.get(drawn.id);
    if (!node) return;
    const grouped = drawn.id.startsWith(GROUP_PREFIX);
    const state = URGENCY.find((u) => drawn.members.some((m) => m.state === u)) ?? 'fresh';
    for (const s of STATES) node.classList.toggle(`state-${s}`, s === state);
    node.classList.toggle('selected', drawn.id === this.selected || drawn.members.some((m) => m.name === this.selected));
    node.dataset['state'] = state;
    const title = node.querySelector('title');
    const only = drawn.members[0];
    if (grouped || !only) {
      const counts = STATES.map((s) => [s, drawn.members.filter((m) => m.state === s).length] as const).filter(([, n]) => n > 0);
      const text = counts.map(([s, n]) => `${n} ${s}`).join(', ');
      if (title) title.textContent = `${drawn.label}: ${drawn.members.length} variants\n${text}`;
      const label = node.querySelector('text.state');
      if (label) label.textContent = text;
      // For a group, the bar is the share of its variants that are fresh.
      node.querySelector('rect.bar')?.classList.add('share');
      node.querySelector('rect.bar')?.setAttribute('width', String(((NODE_W * drawn.members.filter((m) => m.state === 'fresh').length) / drawn.members.length).toFixed(1)));
      return;
    }
    if (title) title.textContent = [only.name, only.state, ...only.reasons, only.error ?? ''].filter(Boolean).join('\n');
    this.setProgress(only.name, only.state, only.progress, only.reasons[0]);
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
