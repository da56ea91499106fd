/**
 * `pipe gc`: lists artifacts that no pipeline file references any more, with sizes; deletes them
 * only with --yes. Kept: every artifact the pipeline files resolve to now (fresh stages), everything
 * the last --keep-last runs of each pipeline used (default 1), and anything newer than --keep-recent.
 */
import { collect } from '../../../artifacts/collect.js';
import { acquireLock } from '../../../artifacts/lock.js';
import { openStore, storeRoot, type CommonFlags } from '../context.js';
import { planCollection } from '../gc-plan.js';
import { age, bytes, table } from '../format.js';
import type { Output } from '../run-logger.js';
import { EXIT } from '../exit-codes.js';
import { UsageError } from '../usage-error.js';
import { parseCount } from '../numbers.js';
import { pruneCheckpointIndex } from '../../execute/resume.js';
import { finishedEventLogs } from '../../execute/event-log.js';
import { rm } from 'node:fs/promises';

export interface GcFlags extends CommonFlags {
  readonly yes?: boolean;
  readonly files: readonly string[];
  readonly keepLast?: string;
  readonly keepRecent?: string;
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
    const { files, undetermined, inUse, doomed } = await planCollection(store, root, () => store.runLeases.live(), { ...flags, files: flags.files, keepLast, recentHours });
    write(`kept: artifacts of ${files.length} pipeline file(s) (${files.join(', ') || 'none found'}) and the last ${keepLast} run(s) of each pipeline${inUse ? `, and ${inUse} in use by running pipe processes` : ''}\n`);
    for (const name of undetermined) write(`kept: every artifact of pipeline ${name}: a data file it reads is not present locally, so gc cannot tell which artifacts it uses (pipe run fetches it)\n`);
    const logs = await finishedEventLogs(root);
    if (!doomed.length && !logs.length) {
      write('nothing to delete\n');
      return 0;
    }
    write(`${table(['artifact', 'stage', 'pipeline', 'size', 'created'], doomed.map((d) => [d.key.slice(0, 12), d.stage, d.pipeline, bytes(d.size), age(d.created)]))}\n`);
    const logNote = logs.length ? ` and the event logs of ${logs.length} finished run(s)` : '';
    if (!flags.yes) {
      write(`\nwould delete ${doomed.length} artifacts, ${bytes(totalSize(doomed))}${logNote}. Run again with --yes to delete them.\n`);
      return 0;
    }
    // Re-checked just before deleting: a run may have started using a key since the listing.
    const { deleted, inUse: nowInUse, failed } = await collect(store, doomed);
    const logsDeleted = (await Promise.all(logs.map((file) => rm(file, { force: true }).then(() => 1, () => 0)))).reduce<number>((a, b) => a + b, 0);
    write(`\ndeleted ${deleted.length} artifacts, ${bytes(totalSize(deleted))}${logsDeleted ? `, and the event logs of ${logsDeleted} finished run(s)` : ''}\n`);
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
