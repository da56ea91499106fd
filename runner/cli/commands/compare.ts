/**
 * `pipe compare <file>`: one row per sweep variant with the params that vary and the metrics of the
 * variant's stages (the swept stage and every dependent that expanded with it). `pipe best` picks
 * the winner by one metric for scripts.
 */
import { canonicalJson } from '../../../artifacts/hash.js';
import type { JsonValue } from '../../../stages/types.js';
import type { Plan } from '../../config/types.js';
import { readRunRecords } from '../../execute/run-records.js';
import { computeStatus } from '../../execute/status.js';
import { backendChoice, openReader, planFile, previousRuns, storeRoot, type CommonFlags } from '../context.js';
import { table } from '../format.js';
import { COMPARE_FORMATS } from '../formats.js';
import type { Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';


export interface VariantRow {
  readonly variant: string;
  readonly state: 'done' | 'failed' | 'not run';
  readonly params: Readonly<Record<string, JsonValue>>;
  /** `<stage group>.<metric>` → value, numbers only. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly seconds: number;
}

const suffixOf = (name: string): string | undefined => /\[(.*)\]$/.exec(name)?.[1];

export async function collectVariants(planned: Plan, flags: CommonFlags): Promise<VariantRow[]> {
  const root = storeRoot(flags, planned.pipeline.store);
  const store = await openReader(root);
  try {
    const states = new Map((await computeStatus(planned, store, await previousRuns(root, planned.pipeline.name), backendChoice(flags, planned))).map((s) => [s.stage, s]));
    const records = await readRunRecords(root);
    const lastStatus = (stage: string): string | undefined => records.find((r) => r.pipeline === planned.pipeline.name && stage in r.stages)?.stages[stage]?.status;
    const groups = new Map<string, string[]>();
    for (const stage of planned.stages) {
      const suffix = suffixOf(stage.name);
      if (stage.variant && suffix !== undefined) groups.set(suffix, [...(groups.get(suffix) ?? []), stage.name]);
    }
    const rows: VariantRow[] = [];
    for (const names of groups.values()) {
      const origin = planned.byName.get(names[0] ?? '');
      if (!origin?.variant) continue;
      const metrics: Record<string, number> = {};
      let seconds = 0;
      let state: VariantRow['state'] = 'done';
      for (const name of names) {
        const s = states.get(name);
        const stage = planned.byName.get(name);
        if (s?.state === 'fresh') {
          seconds += s.manifest.duration_s;
          for (const [k, v] of Object.entries(s.manifest.metrics)) if (typeof v === 'number') metrics[`${stage?.group ?? name}.${k}`] = v;
        } else if (lastStatus(name) === 'failed' || lastStatus(name) === 'skipped') {
          state = 'failed';
        } else if (state !== 'failed') {
          state = 'not run';
        }
      }
      rows.push({ variant: origin.name, state, params: origin.variant, metrics, seconds });
    }
    return rows;
  } finally {
    await store.close();
  }
}

/** The columns of a comparison: only params whose values differ between variants, then every metric. */
export function sweepColumns(rows: readonly VariantRow[]): { paramKeys: string[]; metricKeys: string[] } {
  const paramKeys = [...new Set(rows.flatMap((r) => Object.keys(r.params)))].filter((k) => new Set(rows.map((r) => canonicalJson(r.params[k]))).size > 1 || rows.length === 1).sort();
  const metricKeys = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
  return { paramKeys, metricKeys };
}

/** What differs between two variants: the params whose values differ, and every metric either has, with b − a. */
export function variantDiff(a: VariantRow, b: VariantRow): { params: { name: string; a: JsonValue | null; b: JsonValue | null }[]; metrics: { name: string; a: number | null; b: number | null; delta: number | null }[] } {
  const params = [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])]
    .filter((k) => canonicalJson(a.params[k] ?? null) !== canonicalJson(b.params[k] ?? null))
    .sort()
    .map((name) => ({ name, a: a.params[name] ?? null, b: b.params[name] ?? null }));
  const metrics = [...new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])].sort().map((name) => {
    const [x, y] = [a.metrics[name], b.metrics[name]];
    return { name, a: x ?? null, b: y ?? null, delta: x === undefined || y === undefined ? null : y - x };
  });
  return { params, metrics };
}

export interface CompareFlags extends CommonFlags {
  readonly format?: string;
  readonly sort?: string;
  readonly asc?: boolean;
}

function sortRows(rows: VariantRow[], metric: string | undefined, ascending: boolean): VariantRow[] {
  if (!metric) return rows;
  const known = new Set(rows.flatMap((r) => Object.keys(r.metrics)));
  const column = known.has(metric) ? metric : [...known].find((k) => k.endsWith(`.${metric}`));
  if (!column) throw new UsageError(`no metric "${metric}" in this sweep; metrics: ${[...known].sort().join(', ') || 'none yet (run the pipeline first)'}`);
  const value = (r: VariantRow): number => r.metrics[column] ?? (ascending ? Infinity : -Infinity);
  return [...rows].sort((a, b) => (ascending ? value(a) - value(b) : value(b) - value(a)));
}

export async function compareCommand(file: string, flags: CompareFlags, write: Output): Promise<number> {
  const planned = await planFile(file, flags);
  const rows = sortRows(await collectVariants(planned, flags), flags.sort, flags.asc === true);
  if (!rows.length) {
    write(`${file} declares no sweep (add matrix:, foreach: or search: to a stage)\n`);
    return 0;
  }
  const { paramKeys, metricKeys } = sweepColumns(rows);
  const format = flags.format ?? 'table';
  if (format === 'json') {
    write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const headers = ['variant', 'state', ...paramKeys, ...metricKeys, 'seconds'];
  const cells = rows.map((r) => [r.variant, r.state, ...paramKeys.map((k) => JSON.stringify(r.params[k] ?? null)), ...metricKeys.map((k) => (r.metrics[k] === undefined ? '' : String(Number(r.metrics[k]?.toPrecision(4))))), r.seconds.toFixed(1)]);
  switch (format) {
    case 'csv':
      write(`${[headers, ...cells].map((row) => row.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')).join('\n')}\n`);
      break;
    case 'markdown':
      write(`${[`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...cells.map((row) => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n')}\n`);
      break;
    case 'table':
      write(`${table(headers, cells)}\n`);
      break;
    default:
      throw new UsageError(`--format must be ${COMPARE_FORMATS.join(', ')} (got "${format}")`);
  }
  return 0;
}

export async function bestCommand(file: string, flags: CommonFlags & { metric?: string; min?: boolean; json?: boolean }, write: Output): Promise<number> {
  if (!flags.metric) throw new UsageError('pipe best needs --metric NAME (e.g. --metric val_accuracy --max)');
  const planned = await planFile(file, flags);
  const rows = sortRows((await collectVariants(planned, flags)).filter((r) => r.state === 'done'), flags.metric, flags.min === true);
  const winner = rows[0];
  if (!winner) {
    process.stderr.write(`pipe: no finished variant in ${file} yet; run it first\n`);
    return 1;
  }
  write(flags.json ? `${JSON.stringify(winner, null, 2)}\n` : `${winner.variant}\n`);
  return 0;
}
