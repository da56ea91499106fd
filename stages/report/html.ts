/**
 * Small HTML building blocks for the report. Everything that came from an artifact (class names,
 * stage names, params) goes through `esc` (HTML) or `plotText` (Plotly labels), never raw.
 */

/** A Plotly figure to draw into the element with this id once the page has loaded. */
export interface Figure {
  readonly id: string;
  readonly data: unknown[];
  readonly layout: Record<string, unknown>;
  /** The first trace's y values are these stages' timing metric, filled in the page (timings.ts). */
  readonly timing?: { readonly stages: readonly string[]; readonly metric: string };
}

/** One report section: its markup and the figures it places. */
export interface Section {
  readonly id: string;
  readonly title: string;
  readonly html: string;
  readonly figures: Figure[];
}

export function esc(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * Plotly renders label strings as pseudo-HTML (it understands <b>, <br>, &lt; …), so user text is
 * entity-escaped: Plotly decodes the entities and shows the literal characters.
 */
export function plotText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * JSON for a <script type="application/json"> block: `<` is written as \u003c so no string can
 * close the script element or open a comment; U+2028/9 are escaped for old JS parsers.
 */
export function jsonScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Fixed-digit number, or an em dash for missing / non-finite values. */
export function fmt(value: unknown, digits = 4): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '—';
}

export function pct(value: unknown, digits = 2): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(digits)}%` : '—';
}

/** A count with thousands separators (fixed locale-free format, so output is identical everywhere). */
export function int(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '—';
}

/** A table cell: text (escaped) plus an optional raw value used for sorting. */
export interface Cell {
  readonly text: string;
  readonly sort?: number | string;
  /** Trusted markup instead of text (already escaped by the caller). */
  readonly html?: string;
  readonly numeric?: boolean;
}

export type CellLike = Cell | string | number;

function toCell(c: CellLike): Cell {
  if (typeof c === 'string') return { text: c };
  if (typeof c === 'number') return { text: String(c), sort: c, numeric: true };
  return c;
}

export function num(value: unknown, digits = 4): Cell {
  return typeof value === 'number' && Number.isFinite(value)
    ? { text: fmt(value, digits), sort: value, numeric: true }
    : { text: '—', sort: '', numeric: true };
}

export function table(headers: readonly string[], rows: readonly (readonly CellLike[])[], opts: { sortable?: boolean; cls?: string; id?: string } = {}): string {
  const classes = ['data', opts.sortable ? 'sortable' : '', opts.cls ?? ''].filter(Boolean).join(' ');
  const head = headers.map((h, i) => `<th${opts.sortable ? ` data-col="${i}" tabindex="0" aria-sort="none"` : ''}>${esc(h)}</th>`).join('');
  const body = rows
    .map((row) => {
      const cells = row.map((raw) => {
        const c = toCell(raw);
        const sort = c.sort !== undefined ? ` data-sort="${esc(c.sort)}"` : '';
        return `<td${c.numeric ? ' class="num"' : ''}${sort}>${c.html ?? esc(c.text)}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<table class="${classes}"${opts.id ? ` id="${esc(opts.id)}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A plot placeholder; the figure with the same id is drawn into it by the page script. */
export function plotDiv(id: string, cls = 'plot'): string {
  return `<div class="${cls}" id="${esc(id)}"></div>`;
}

/** Name of class `i`, or its number when the artifacts do not name it. */
export function className(classes: readonly string[], i: number): string {
  return classes[i] ?? String(i);
}

/** Common Plotly layout: compact margins, system font, no animated transitions. */
export function baseLayout(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: plotText(title), font: { size: 14 } },
    margin: { l: 60, r: 20, t: 40, b: 60 },
    font: { family: 'system-ui, sans-serif', size: 11 },
    paper_bgcolor: '#fff',
    plot_bgcolor: '#fff',
    height: 320,
    ...extra,
  };
}
