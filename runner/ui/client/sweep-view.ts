/**
 * The sweep table: `pipe compare`'s rows, sortable and filterable, with the chosen columns, sort and
 * filter kept in the URL; a scatter of a param against a metric; and the diff of two picked
 * variants (computed by the server with compare's own variantDiff).
 *
 * Only the rows in view are in the DOM (fixed row height, spacer rows above and below), so a sort
 * costs one index sort and a few dozen rows' markup however large the sweep is.
 */
import type { DiffPayload, Json, SweepPayload, SweepRow } from '../api-types.js';
import { getJson } from './api.js';
import { html } from './escape.js';
import { jsonText, num } from './format.js';
import { plot } from './vendor.js';

const ROW_H = 24;
const OVERSCAN = 10;
/** One collator for every text sort: localeCompare would build one per comparison. */
const COLLATOR = new Intl.Collator(undefined, { numeric: true });

type Cell = number | string;

interface Column {
  readonly id: string;
  readonly label: string;
  readonly numeric: boolean;
  /** One value per row, computed once, in row order. */
  readonly values: readonly Cell[];
  readonly text: readonly string[];
}

export interface SweepState {
  cols?: string[];
  sort?: string;
  desc: boolean;
  q: string;
}

function columnsOf(data: SweepPayload): Column[] {
  const make = (id: string, label: string, value: (r: SweepRow) => Json | undefined): Column => {
    const raw = data.rows.map(value);
    const numeric = raw.every((v) => v === undefined || v === null || typeof v === 'number');
    return {
      id,
      label,
      numeric,
      values: raw.map((v) => (numeric ? (typeof v === 'number' ? v : Number.NaN) : v === undefined ? '' : typeof v === 'string' ? v : jsonText(v))),
      text: raw.map((v) => (v === undefined || v === null ? '' : typeof v === 'number' ? num(v) : typeof v === 'string' ? v : jsonText(v))),
    };
  };
  return [
    make('variant', 'variant', (r) => r.variant),
    make('state', 'state', (r) => r.state),
    ...data.paramKeys.map((k) => make(`param:${k}`, k, (r) => r.params[k])),
    ...data.metricKeys.map((k) => make(`metric:${k}`, k, (r) => r.metrics[k])),
    make('seconds', 'seconds', (r) => r.seconds),
  ];
}

export class SweepView {
  private data: SweepPayload | undefined;
  private columns: Column[] = [];
  private order: number[] = [];
  private picked: string[] = [];
  private scroller: HTMLElement | undefined;
  private body: HTMLElement | undefined;
  private visible: Column[] = [];
  /** The last sort + render, in ms (the benchmark reads it). */
  lastSortMs = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly state: SweepState,
    private readonly onState: (state: SweepState) => void,
  ) {}

  async load(file: string): Promise<void> {
    this.container.innerHTML = html`<p class="muted">loading the sweep of ${file}…</p>`.text;
    this.data = await getJson<SweepPayload>('/api/sweep', { file });
    this.columns = columnsOf(this.data);
    if (!this.data.rows.length) {
      this.container.innerHTML = html`<p id="sweep-empty">${file} declares no sweep (add matrix: or foreach: to a stage).</p>`.text;
      return;
    }
    this.layout(file);
    this.apply();
  }

  private chosen(): Column[] {
    const wanted = this.state.cols;
    if (!wanted?.length) return this.columns;
    const set = new Set(wanted);
    const cols = this.columns.filter((c) => c.id === 'variant' || set.has(c.id));
    return cols.length ? cols : this.columns;
  }

  private layout(file: string): void {
    const data = this.data!;
    const params = this.columns.filter((c) => c.id.startsWith('param:') && c.numeric);
    const metrics = this.columns.filter((c) => c.id.startsWith('metric:'));
    const chosen = new Set(this.chosen().map((c) => c.id));
    this.container.innerHTML = html`
      <h2>Sweep of ${file} <span class="muted">(${data.rows.length} variants)</span></h2>
      <div class="controls"><label>filter <input id="sweep-filter" type="search" value="${this.state.q}" placeholder="variant, state, value…"></label>
      <details><summary>columns</summary>${this.columns.map((c) => html`<label><input type="checkbox" data-col="${c.id}" ${chosen.has(c.id) ? 'checked' : ''} ${c.id === 'variant' ? 'disabled' : ''}>${c.label}</label> `)}</details>
      <span id="sweep-count" class="muted"></span></div>
      <div id="sweep-scroll"><table class="grid" id="sweep-table"><thead></thead><tbody></tbody></table></div>
      <div class="side"><div><div class="controls"><label>x <select id="scatter-x">${params.map((c) => html`<option value="${c.id}">${c.label}</option>`)}</select></label>
      <label>y <select id="scatter-y">${metrics.map((c) => html`<option value="${c.id}">${c.label}</option>`)}</select></label></div>
      <div class="plot" id="sweep-scatter"></div></div>
      <div><h3>Compare two variants <span class="muted">(tick two rows)</span></h3><div id="sweep-diff"></div></div></div>`.text;
    this.scroller = this.container.querySelector<HTMLElement>('#sweep-scroll')!;
    this.body = this.container.querySelector<HTMLElement>('#sweep-table tbody')!;
    this.scroller.addEventListener('scroll', () => this.renderRows(), { passive: true });
    this.container.querySelector('#sweep-table thead')?.addEventListener('click', (e) => {
      const th = (e.target as HTMLElement).closest<HTMLElement>('th[data-sort]');
      if (th) this.sortBy(th.dataset['sort'] ?? '');
    });
    const filter = this.container.querySelector<HTMLInputElement>('#sweep-filter')!;
    filter.addEventListener('input', () => {
      this.state.q = filter.value;
      this.onState(this.state);
      this.apply();
    });
    for (const box of this.container.querySelectorAll<HTMLInputElement>('input[data-col]')) {
      box.addEventListener('change', () => {
        this.state.cols = [...this.container.querySelectorAll<HTMLInputElement>('input[data-col]:checked')].map((b) => b.dataset['col'] ?? '').filter(Boolean);
        this.onState(this.state);
        this.apply();
      });
    }
    this.body.addEventListener('change', (e) => {
      const box = e.target as HTMLInputElement;
      const variant = box.dataset['pick'];
      if (variant === undefined) return;
      this.picked = box.checked ? [...this.picked.filter((v) => v !== variant), variant].slice(-2) : this.picked.filter((v) => v !== variant);
      this.renderRows();
      void this.diff(file);
    });
    const scatter = (): void => void this.scatter();
    this.container.querySelector('#scatter-x')?.addEventListener('change', scatter);
    this.container.querySelector('#scatter-y')?.addEventListener('change', scatter);
    scatter();
  }

  /** Filter, sort and render the header and the rows in view. */
  apply(): void {
    const t0 = performance.now();
    this.visible = this.chosen();
    const q = this.state.q.trim().toLowerCase();
    const all = this.data!.rows.map((_, i) => i);
    const rows = q ? all.filter((i) => this.visible.some((c) => (c.text[i] ?? '').toLowerCase().includes(q))) : all;
    const column = this.columns.find((c) => c.id === this.state.sort);
    if (column) {
      const sign = this.state.desc ? -1 : 1;
      const v = column.values;
      rows.sort(
        column.numeric
          ? (a, b) => {
              const [x, y] = [v[a] as number, v[b] as number];
              // Missing values (NaN) last in either direction.
              if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;
              if (Number.isNaN(y)) return -1;
              return sign * (x - y);
            }
          : (a, b) => sign * COLLATOR.compare(String(v[a]), String(v[b])),
      );
    }
    this.order = rows;
    const head = this.container.querySelector<HTMLElement>('#sweep-table thead')!;
    // The header is rebuilt only when the columns change; a sort moves the arrow only.
    const columns = this.visible.map((c) => c.id).join('\n');
    if (head.dataset['columns'] !== columns) {
      head.dataset['columns'] = columns;
      head.innerHTML = html`<tr><th></th>${this.visible.map((c) => html`<th class="sortable" data-sort="${c.id}">${c.label}<span class="arrow"></span></th>`)}</tr>`.text;
    }
    for (const th of head.querySelectorAll<HTMLElement>('th[data-sort]')) {
      const arrow = th.querySelector('.arrow');
      if (arrow) arrow.textContent = th.dataset['sort'] === this.state.sort ? (this.state.desc ? ' ▼' : ' ▲') : '';
    }
    const count = this.container.querySelector('#sweep-count');
    if (count) count.textContent = `${rows.length} of ${this.data!.rows.length} shown`;
    this.renderRows();
    // Asking for a box makes the browser lay the new rows out now, inside the measurement.
    this.body?.getBoundingClientRect();
    this.lastSortMs = performance.now() - t0;
    document.body.dataset['sweepSortMs'] = String(this.lastSortMs);
  }

  sortBy(id: string): void {
    this.state.desc = this.state.sort === id ? !this.state.desc : false;
    this.state.sort = id;
    this.onState(this.state);
    this.apply();
  }

  private renderRows(): void {
    if (!this.scroller || !this.body) return;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(this.order.length, Math.ceil((this.scroller.scrollTop + this.scroller.clientHeight) / ROW_H) + OVERSCAN);
    const span = this.visible.length + 1;
    const rows = this.data!.rows;
    const parts: string[] = [first ? `<tr style="height:${first * ROW_H}px"><td colspan="${span}"></td></tr>` : ''];
    for (let k = first; k < last; k++) {
      const i = this.order[k]!;
      const variant = rows[i]!.variant;
      const picked = this.picked.includes(variant);
      parts.push(html`<tr style="height:${ROW_H}px" data-variant="${variant}" class="${picked ? 'picked' : ''}"><td><input type="checkbox" data-pick="${variant}" ${picked ? 'checked' : ''} aria-label="pick"></td>${this.visible.map((c) => html`<td class="${c.numeric ? 'num' : ''}">${c.text[i] ?? ''}</td>`)}</tr>`.text);
    }
    if (last < this.order.length) parts.push(`<tr style="height:${(this.order.length - last) * ROW_H}px"><td colspan="${span}"></td></tr>`);
    this.body.innerHTML = parts.join('');
  }

  private async scatter(): Promise<void> {
    const x = this.columns.find((c) => c.id === this.container.querySelector<HTMLSelectElement>('#scatter-x')?.value);
    const y = this.columns.find((c) => c.id === this.container.querySelector<HTMLSelectElement>('#scatter-y')?.value);
    const box = this.container.querySelector<HTMLElement>('#sweep-scatter');
    if (!x || !y || !box) return;
    const names = this.data!.rows.map((r) => r.variant);
    await plot(box, [{ x: x.values, y: y.values, text: names, mode: 'markers', type: 'scatter', hovertemplate: '%{text}<br>%{x} → %{y}<extra></extra>' }], { title: { text: `${y.label} by ${x.label}` }, xaxis: { title: { text: x.label } }, yaxis: { title: { text: y.label } } });
  }

  private async diff(file: string): Promise<void> {
    const box = this.container.querySelector<HTMLElement>('#sweep-diff');
    if (!box) return;
    const [a, b] = this.picked;
    if (a === undefined || b === undefined) {
      box.innerHTML = '';
      return;
    }
    const d = await getJson<DiffPayload>('/api/diff', { file, a, b });
    box.innerHTML = html`<table class="grid" id="diff-table"><thead><tr><th></th><th>${d.a}</th><th>${d.b}</th><th>b − a</th></tr></thead><tbody>
      ${d.params.map((p) => html`<tr data-diff-param="${p.name}"><td><code>${p.name}</code></td><td>${jsonText(p.a)}</td><td>${jsonText(p.b)}</td><td></td></tr>`)}
      ${d.metrics.map((m) => html`<tr data-diff-metric="${m.name}"><td><code>${m.name}</code></td><td class="num">${num(m.a)}</td><td class="num">${num(m.b)}</td><td class="num">${m.delta === null ? '' : num(m.delta)}</td></tr>`)}
    </tbody></table>`.text;
  }
}
