/**
 * Timings in the report without timings in the artifact.
 *
 * Fit and inference times differ on every run, so the report stage never writes them into
 * report.html (its bytes must be the same for the same inputs, on any machine). It writes
 * placeholders instead: `<span class="timing" data-stage=… data-metric=…>` cells, figures with a
 * `timing` source, and one empty data block. Publishing the report (after `pipe run` or
 * `pipe report`) fills that block from the manifests' metrics, and the page script puts the values
 * into the placeholders. The artifact itself shows "—" where a timing would be.
 */
import type { JsonValue } from '../types.js';
import { esc, jsonScript } from './html.js';

/** Stage name → its timing metrics (seconds `*_s`, rates `*_per_s`, per-epoch `epoch_s`). */
export type TimingTable = Record<string, Record<string, number | number[]>>;

export const TIMINGS_ID = 'pipe-timings';
export const TIMINGS_PLACEHOLDER = `<script type="application/json" id="${TIMINGS_ID}">{}</script>`;

export function isTimingMetric(name: string): boolean {
  return name.endsWith('_s');
}

/** The timing metrics of one artifact's metrics. */
export function timingMetrics(metrics: Readonly<Record<string, JsonValue>>): Record<string, number | number[]> {
  const out: Record<string, number | number[]> = {};
  for (const [k, v] of Object.entries(metrics)) {
    if (!isTimingMetric(k)) continue;
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) out[k] = v as number[];
  }
  return out;
}

/** Replaces the empty block with the table; the page is returned unchanged if it has no block. */
export function fillTimings(page: string, table: TimingTable): string {
  const at = page.indexOf(TIMINGS_PLACEHOLDER);
  if (at < 0) return page;
  return `${page.slice(0, at)}<script type="application/json" id="${TIMINGS_ID}">${jsonScript(table)}</script>${page.slice(at + TIMINGS_PLACEHOLDER.length)}`;
}

/**
 * A placeholder for one timing of one stage. `digits` < 0 prints a whole number with thousands
 * separators; `suffix` follows the value (e.g. " s").
 */
export function timingSpan(stage: string, metric: string, digits: number, suffix = ''): string {
  return `<span class="timing" data-stage="${esc(stage)}" data-metric="${esc(metric)}" data-digits="${digits}" data-suffix="${esc(suffix)}">—</span>`;
}

/** A placeholder for every timing of a stage, as "name value, …" (the run-facts table). */
export function allTimingsSpan(stage: string): string {
  return `<span class="timings-all" data-stage="${esc(stage)}">—</span>`;
}

/** The page script's part: fills placeholders and timing figures from the block (ES5, no network). */
export const TIMINGS_SCRIPT = `
  var T = {};
  try { T = JSON.parse(document.getElementById('${TIMINGS_ID}').textContent) || {}; } catch (e) { console.error('timings: ' + e); }
  function timing(stage, metric) { var m = T[stage]; var v = m && m[metric]; return typeof v === 'number' ? v : null; }
  function show(v, digits) { return digits < 0 ? String(Math.round(v)).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ',') : v.toFixed(digits); }
  Array.prototype.forEach.call(document.querySelectorAll('span.timing'), function (el) {
    var v = timing(el.getAttribute('data-stage'), el.getAttribute('data-metric'));
    if (v === null) return;
    el.textContent = show(v, Number(el.getAttribute('data-digits'))) + (el.getAttribute('data-suffix') || '');
    var td = el.parentNode;
    if (td && td.tagName === 'TD') td.setAttribute('data-sort', String(v));
  });
  Array.prototype.forEach.call(document.querySelectorAll('span.timings-all'), function (el) {
    var m = T[el.getAttribute('data-stage')];
    if (!m) return;
    var parts = Object.keys(m).sort().filter(function (k) { return typeof m[k] === 'number'; }).map(function (k) { return k + ' ' + m[k]; });
    if (parts.length) el.textContent = parts.join(', ');
  });
  function fillFigure(f) {
    if (!f.timing) return;
    f.data[0].y = f.timing.stages.map(function (s) { return timing(s, f.timing.metric); });
  }
`;
