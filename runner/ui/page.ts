/** The page shell `pipe ui` serves at /: styles, the layout, and the scripts (all served locally). */
import { escapeHtml } from './client/escape.js';

const STYLE = `
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--accent:#0969da;--fresh:#1a7f37;--stale:#bf8700;--never:#8c959f;--running:#0969da;--failed:#cf222e;--queued:#8250df}
*{box-sizing:border-box}
body{margin:0;font:13px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:#fff;height:100vh;display:flex;flex-direction:column}
header{display:flex;align-items:center;gap:16px;padding:8px 16px;border-bottom:1px solid var(--line);background:var(--bg)}
header h1{margin:0;font-size:16px}
header nav a{margin-right:12px;color:var(--fg);text-decoration:none;padding:4px 8px;border-radius:6px}
header nav a.active{background:#fff;border:1px solid var(--line)}
header select{font:inherit}
#live{margin-left:auto;color:var(--muted)}
main{flex:1;display:flex;min-height:0}
#view{flex:1;overflow:auto;padding:12px 16px;min-width:0}
#panel{width:480px;border-left:1px solid var(--line);overflow:auto;padding:12px 16px;display:none}
#panel.open{display:block}
svg.graph .node rect{stroke-width:2;rx:6}
svg.graph .node{cursor:pointer}
svg.graph .node text{font-size:11px;pointer-events:none}
svg.graph .node.selected rect{stroke-width:4}
svg.graph .edge{fill:none;stroke:#8c959f;stroke-width:1.2}
.state-fresh rect{fill:#dafbe1;stroke:var(--fresh)}
.state-stale rect{fill:#fff8c5;stroke:var(--stale)}
.state-never-run rect{fill:#f6f8fa;stroke:var(--never);stroke-dasharray:4 3}
.state-running rect{fill:#ddf4ff;stroke:var(--running)}
.state-queued rect{fill:#fbefff;stroke:var(--queued)}
.state-failed rect{fill:#ffebe9;stroke:var(--failed)}
.node .bar{fill:var(--running);stroke:none}
.node .bar.share{fill:var(--fresh);opacity:.5}
.badge.state-fresh{background:#dafbe1;border-color:var(--fresh)}.badge.state-stale{background:#fff8c5;border-color:var(--stale)}.badge.state-never-run{border-style:dashed}.badge.state-running{background:#ddf4ff;border-color:var(--running)}.badge.state-queued{background:#fbefff;border-color:var(--queued)}.badge.state-failed{background:#ffebe9;border-color:var(--failed)}
.legend span{display:inline-block;margin-right:10px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
table.grid{border-collapse:collapse;margin:6px 0 12px}
table.grid th,table.grid td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
table.grid th{background:var(--bg);position:sticky;top:0;cursor:default}
table.grid th.sortable{cursor:pointer}
td.num{text-align:right;font-variant-numeric:tabular-nums}
#artifact-table code{word-break:break-all}
code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
pre.log{background:var(--bg);padding:8px;max-height:320px;overflow:auto;white-space:pre-wrap}
.muted{color:var(--muted)}
.error{color:var(--failed);white-space:pre-wrap}
.badge{display:inline-block;padding:0 6px;border-radius:10px;font-size:11px;border:1px solid var(--line)}
.imgs img{width:84px;height:84px;image-rendering:pixelated;margin:2px;border:1px solid var(--line)}
canvas.samples{image-rendering:pixelated;border:1px solid var(--line)}
.plot{width:440px;height:300px}
#sweep-scroll{height:360px;overflow:auto;border:1px solid var(--line);position:relative}
#sweep-scroll table{margin:0}
#sweep-table td{height:24px;padding:0 8px;line-height:22px;white-space:nowrap}
#sweep-table input{margin:0;vertical-align:middle}
.side{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
tr.picked td{background:#ddf4ff}
.controls{margin:6px 0;display:flex;gap:8px;flex-wrap:wrap;align-items:center}
.controls label{display:inline-flex;gap:3px;align-items:center}
`;

export function pageHtml(title: string, modules: readonly string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">
<style>${STYLE}</style>
<script>performance.mark('ui-start')</script>
${modules.map((m) => `<link rel="modulepreload" href="/app/${escapeHtml(m)}">`).join('\n')}
</head><body>
<header><h1>pipe ui</h1>
<nav><a href="#/graph" data-view="graph">Graph</a><a href="#/runs" data-view="runs">Runs</a><a href="#/sweep" data-view="sweep">Sweep</a><a href="#/artifacts" data-view="artifacts">Artifacts</a></nav>
<select id="pipeline" aria-label="pipeline"></select>
<span id="live" aria-live="polite"></span></header>
<main><section id="view"></section><aside id="panel"></aside></main>
<script src="/vendor/dagre.js"></script>
<script type="module" src="/app/main.js"></script>
</body></html>
`;
}
