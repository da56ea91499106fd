/**
 * `pipe gc`: lists artifacts that no pipeline file references any more, with sizes; deletes them
 * only with --yes. Kept: every artifact the pipeline files resolve to now (fresh stages), everything
 * the last --keep-last runs of each pipeline used (default 1), and anything newer than --keep-recent.
 */
import type { KeyHash } from '../../../artifacts/hash.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { collect } from '../../../artifacts/collect.js';
import { acquireLock } from '../../../artifacts/lock.js';
import { readRunRecords } from '../../execute/run-records.js';
import { computeStatus } from '../../execute/status.js';
import { backendChoice, openStore, planFile, previousRuns, storeRoot, type CommonFlags } from '../context.js';
import { age, bytes, table } from '../format.js';
import type { Output } from '../run-logger.js';
import { EXIT } from '../exit-codes.js';
import { UsageError } from '../usage-error.js';
import { parseCount } from '../numbers.js';
import { pruneCheckpointIndex } from '../../execute/resume.js';

export interface GcFlags extends CommonFlags {
  readonly yes?: boolean;
  readonly files: readonly string[];
  readonly keepLast?: string;
  readonly keepRecent?: string;
}

async function pipelineFiles(given: readonly string[]): Promise<string[]> {
  if (given.length) return [...given];
  const names = await readdir('pipelines').catch(() => [] as string[]);
  return names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join('pipelines', n));
}

function parseHours(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const match = /^(\d+(?:\.\d+)?)([hd])$/.exec(value);
  if (!match) throw new UsageError(`--keep-recent takes a duration like 24h or 7d (got "${value}")`);
  return Number(match[1]) * (match[2] === 'd' ? 24 : 1);
}

function totalSize(artifacts: ReadonlyArray<{ readonly size: number }>): number {
  return artifacts.reduce((a, d) => a + d.size, 0);
}

export async function gcCommand(flags: GcFlags, write: Output): Promise<number> {
  const keepLast = flags.keepLast === undefined ? 1 : parseCount(flags.keepLast, '--keep-last', 0);
  const recentHours = parseHours(flags.keepRecent, 0);
  const root = storeRoot(flags);
  const store = await openStore(root);
  const lock = await acquireLock(root, 'pipe gc');
  try {
    const keep = new Set<KeyHash>();
    // Pipelines whose keys cannot all be computed without fetching (gc only looks): all of their
    // artifacts are kept, since which ones they use cannot be told.
    const undetermined = new Set<string>();
    const files = await pipelineFiles(flags.files);
    for (const file of files) {
      const planned = await planFile(file, flags);
      const states = await computeStatus(planned, store, await previousRuns(root, planned.pipeline.name), backendChoice(flags, planned));
      for (const s of states) if (s.state === 'fresh') keep.add(s.key);
      if (states.some((s) => s.state === 'stale' && s.undetermined)) undetermined.add(planned.pipeline.name);
    }
    const perPipeline = new Map<string, number>();
    for (const record of await readRunRecords(root)) {
      const seen = perPipeline.get(record.pipeline) ?? 0;
      if (seen >= keepLast) continue;
      perPipeline.set(record.pipeline, seen + 1);
      for (const stage of Object.values(record.stages)) if (stage.key) keep.add(stage.key);
    }
    // Whatever a live run reads or writes survives, even if no pipeline file references it now.
    let inUse = 0;
    for (const run of await store.runLeases.live()) for (const key of run.keys ?? []) if (!keep.has(key)) { keep.add(key); inUse++; }
    const doomed = [];
    for (const key of await store.keys()) {
      if (keep.has(key)) continue;
      const manifest = await store.readManifest(key);
      if (manifest && undetermined.has(manifest.pipeline)) continue;
      const created = manifest?.finished_at ?? new Date(0).toISOString();
      if (Date.now() - Date.parse(created) < recentHours * 3600_000) continue;
      doomed.push({ key, stage: manifest?.stage ?? '?', pipeline: manifest?.pipeline ?? '?', created, size: await store.sizeOf(key) });
    }
    write(`kept: artifacts of ${files.length} pipeline file(s) (${files.join(', ') || 'none found'}) and the last ${keepLast} run(s) of each pipeline${inUse ? `, and ${inUse} in use by running pipe processes` : ''}\n`);
    for (const name of undetermined) write(`kept: every artifact of pipeline ${name}: a data file it reads is not present locally, so gc cannot tell which artifacts it uses (pipe run fetches it)\n`);
    if (!doomed.length) {
      write('nothing to delete\n');
      return 0;
    }
    write(`${table(['artifact', 'stage', 'pipeline', 'size', 'created'], doomed.map((d) => [d.key.slice(0, 12), d.stage, d.pipeline, bytes(d.size), age(d.created)]))}\n`);
    if (!flags.yes) {
      write(`\nwould delete ${doomed.length} artifacts, ${bytes(totalSize(doomed))}. Run again with --yes to delete them.\n`);
      return 0;
    }
    // Re-checked just before deleting: a run may have started using a key since the listing.
    const { deleted, inUse: nowInUse, failed } = await collect(store, doomed);
    write(`\ndeleted ${deleted.length} artifacts, ${bytes(totalSize(deleted))}\n`);
    // Resume markers of deleted artifacts point at nothing now (runner/execute/resume.ts).
    await pruneCheckpointIndex(root, new Set(await store.keys()));
    if (nowInUse.length) write(`skipped ${nowInUse.length} now in use by a run that started since the listing: ${nowInUse.map((d) => d.key.slice(0, 12)).join(', ')}\n`);
    for (const { artifact, message } of failed) write(`could not delete ${artifact.key.slice(0, 12)} (${artifact.stage}): ${message}\n`);
    return failed.length ? EXIT.failed : EXIT.ok;
  } finally {
    await store.close();
    await lock.release();
  }
}
