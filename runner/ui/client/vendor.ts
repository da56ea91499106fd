/**
 * The two libraries the page loads as classic scripts from /vendor (node_modules, never a CDN),
 * typed by the little of each this page uses. plotly.js (4.6 MB) loads only when a chart is first
 * drawn, so the first page does not wait for it.
 */

export interface DagreGraph {
  setGraph(label: Record<string, string | number>): void;
  setDefaultEdgeLabel(label: () => Record<string, never>): void;
  setNode(name: string, label: { width: number; height: number }): void;
  setEdge(from: string, to: string): void;
  node(name: string): { x: number; y: number; width: number; height: number };
  edges(): { v: string; w: string }[];
  edge(edge: { v: string; w: string }): { points: { x: number; y: number }[] };
  graph(): { width?: number; height?: number };
}

interface Dagre {
  graphlib: { Graph: new () => DagreGraph };
  layout(graph: DagreGraph): void;
}

export function dagre(): Dagre {
  const lib = (globalThis as unknown as { dagre?: Dagre }).dagre;
  if (!lib) throw new Error('dagre did not load (/vendor/dagre.js)');
  return lib;
}

export type PlotTrace = Record<string, unknown>;

interface Plotly {
  newPlot(element: HTMLElement, data: PlotTrace[], layout: Record<string, unknown>, config: Record<string, unknown>): Promise<unknown>;
}

let plotly: Promise<Plotly> | undefined;

export function loadPlotly(): Promise<Plotly> {
  plotly ??= new Promise<Plotly>((resolve, reject) => {
    const script = document.createElement('script');
    script.src = '/vendor/plotly.js';
    script.onload = () => {
      const lib = (globalThis as unknown as { Plotly?: Plotly }).Plotly;
      if (lib) resolve(lib);
      else reject(new Error('plotly.js did not load'));
    };
    script.onerror = () => reject(new Error('plotly.js did not load (/vendor/plotly.js)'));
    document.head.append(script);
  });
  return plotly;
}

export async function plot(element: HTMLElement, data: PlotTrace[], layout: Record<string, unknown>): Promise<void> {
  const lib = await loadPlotly();
  await lib.newPlot(element, data, { margin: { l: 50, r: 10, t: 30, b: 40 }, font: { size: 11 }, ...layout }, { displaylogo: false, responsive: true });
}
