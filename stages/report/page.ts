/**
 * The HTML shell: styles, navigation, plotly.js inlined (the page must open offline), the figure
 * specs as a JSON data block, and a few lines of script that draw them and make tables sortable.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { esc, jsonScript, type Section } from './html.js';
import { TIMINGS_PLACEHOLDER, TIMINGS_SCRIPT } from './timings.js';

let plotly: { source: string; version: string } | undefined;

/** plotly.min.js from node_modules, resolved like an import so it works when pipe is a dependency too. */
export function plotlySource(): { source: string; version: string } {
  if (plotly) return plotly;
  const require = createRequire(import.meta.url);
  const file = require.resolve('plotly.js-dist-min');
  const pkg = JSON.parse(readFileSync(require.resolve('plotly.js-dist-min/package.json'), 'utf8')) as { version: string };
  // A literal "</script" would end the inline element early; the bundle has none, but never trust it.
  const source = readFileSync(file, 'utf8').replace(/<\/(script)/gi, '<\\/$1');
  plotly = { source, version: pkg.version };
  return plotly;
}

const STYLE = `
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:#fff}
header{padding:20px 32px 8px;border-bottom:1px solid var(--line)}
header h1{margin:0 0 4px;font-size:24px}
nav{background:#fff;border-bottom:1px solid var(--line);padding:6px 32px;display:flex;flex-wrap:wrap;gap:4px 14px}
nav a{color:var(--accent);text-decoration:none;font-size:13px}
main{padding:0 32px 40px;max-width:1400px}
section{border-bottom:1px solid var(--line);padding:8px 0 20px}
h2{font-size:20px;margin:20px 0 8px}
h3{font-size:16px;margin:16px 0 6px}
h4{font-size:14px;margin:14px 0 6px}
.muted{color:var(--muted);font-weight:normal}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--bg);padding:1px 4px;border-radius:4px;word-break:break-all}
table.data{border-collapse:collapse;margin:6px 0;font-size:13px}
table.data th,table.data td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
table.data th{background:var(--bg);font-weight:600}
table.data td.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}
table.sortable th[aria-sort=descending]::after{content:" ▼"}
table.facts code.params{display:inline-block;max-width:380px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px;align-items:start}
.grid4{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
.plot{min-height:300px;width:100%}
.plot.tall{min-height:420px}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.kpi{border:1px solid var(--line);border-radius:6px;padding:6px 12px;background:var(--bg)}
.kpi span{display:block;color:var(--muted);font-size:12px}
.kpi b{font-size:16px}
img.px{image-rendering:pixelated;background:#000;display:inline-block}
.samples .sample-row{display:flex;align-items:center;gap:8px;margin:2px 0}
.sample-label{width:120px;text-align:right;font-size:12px;color:var(--muted);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.sample-imgs img{margin-right:2px}
.cards,.triplets{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0}
.card{width:100px;font-size:11px;text-align:center}
.triplet{border:1px solid var(--line);border-radius:6px;padding:6px;font-size:11px;max-width:272px}
.triplet.wrong{border-color:#cf222e}
.triplet img{margin-right:2px}
.photos{display:flex;flex-wrap:wrap;gap:10px}
.photo{border:1px solid var(--line);border-radius:6px;padding:6px;font-size:11px}
.photo.wrong{border-color:#cf222e}
.photo img{margin-right:2px;vertical-align:top}
.photo ol.top3{margin:2px 0 0;padding-left:18px}
.good{color:#1a7f37}.bad{color:#cf222e}
details{margin:2px 0}summary{cursor:pointer}
footer{padding:12px 32px;color:var(--muted);font-size:12px}
`;

/** Draws each figure; errors go to the console (the browser test fails on any console error). */
const SCRIPT = `
(function () {
  'use strict';
  performance.mark('report-draw-start');
  var spec = JSON.parse(document.getElementById('report-data').textContent);
  var config = { displaylogo: false, responsive: true };
${TIMINGS_SCRIPT}
  spec.figures.forEach(function (f) {
    var el = document.getElementById(f.id);
    if (!el) return;
    fillFigure(f);
    try { Plotly.newPlot(el, f.data, f.layout, config); } catch (e) { console.error('figure ' + f.id + ': ' + e); }
  });
  performance.mark('report-draw-end');
  function value(row, col) {
    var td = row.cells[col];
    if (!td) return '';
    var v = td.getAttribute('data-sort');
    return v === null ? td.textContent.trim() : v;
  }
  function compare(x, y) {
    if (x === '' || y === '') return x === y ? 0 : x === '' ? 1 : -1;
    var nx = Number(x), ny = Number(y);
    if (!isNaN(nx) && !isNaN(ny)) return nx - ny;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      function sort() {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(heads, function (h) { h.setAttribute('aria-sort', 'none'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = value(a, col), y = value(b, col);
          if (x === '' || y === '') return compare(x, y); // missing values stay last either way
          return asc ? compare(x, y) : compare(y, x);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); } });
    });
  });
})();
`;

export interface PageOptions {
  readonly title: string;
  readonly description?: string;
  readonly sections: readonly Section[];
  /** One line under the title (what the report covers); escaped here. */
  readonly subtitle: string;
}

export function renderPage(opts: PageOptions): string {
  const { source, version } = plotlySource();
  const figures = opts.sections.flatMap((s) => s.figures);
  const nav = opts.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('\n');
  const body = opts.sections.map((s) => `<section id="${esc(s.id)}">\n<h2>${esc(s.title)}</h2>\n${s.html}\n</section>`).join('\n');
  const empty = opts.sections.length ? '' : '<p class="muted">This report has no inputs: give it inspect, evaluations, trainings or explanations.</p>';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pipe report">
<title>${esc(opts.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${esc(opts.title)}</h1>
${opts.description ? `<p>${esc(opts.description)}</p>\n` : ''}<p class="muted">${esc(opts.subtitle)}</p>
</header>
<nav>
${nav}
</nav>
<main>
${empty}${body}
</main>
<footer>Generated by pipe (report stage) with plotly.js ${esc(version)}, inlined: this file needs no network.</footer>
<script type="application/json" id="report-data">${jsonScript({ figures })}</script>
${TIMINGS_PLACEHOLDER}
<script>${source}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
