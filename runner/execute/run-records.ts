/**
 * Run records: one JSON file per run under <store>/runs/, written once and never rewritten, so
 * there is no shared mutable lock file to conflict in git. They are the history behind
 * `pipe status` reasons, `pipe compare` and gc roots.
 */
import { parseContentHash, parseKeyHash, type ContentHash, type KeyHash } from '../../artifacts/hash.js';
import { readdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../artifacts/atomic-write.js';
import { join } from 'node:path';
import type { KeyRecord, StaleReason } from '../../artifacts/key.js';
import type { JsonValue } from '../../stages/types.js';
import type { StageStatus } from './events.js';

export interface StageRecord {
  readonly status: StageStatus;
  readonly key?: KeyHash;
  readonly key_record?: KeyRecord;
  readonly content_hash?: ContentHash;
  readonly seconds?: number;
  readonly reasons?: readonly StaleReason[];
  readonly error?: string;
  readonly group?: string;
  readonly variant?: Readonly<Record<string, JsonValue>>;
  readonly params?: Readonly<Record<string, JsonValue>>;
  readonly metrics?: Readonly<Record<string, JsonValue>>;
}

export interface RunRecord {
  readonly id: string;
  readonly pipeline: string;
  readonly file: string;
  readonly argv: readonly string[];
  readonly started_at: string;
  readonly finished_at: string;
  readonly interrupted: boolean;
  readonly stages: Readonly<Record<string, StageRecord>>;
}

export function newRunId(start: Date): string {
  return `${start.toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
}

export async function writeRunRecord(storeRoot: string, record: RunRecord): Promise<string> {
  const file = join(storeRoot, 'runs', `${record.id}.json`);
  await writeFileAtomic(file, `${JSON.stringify(record, null, 1)}\n`);
  return file;
}

/** A record read back: its keys and content hashes are kept only if they have the form of one. */
function withCheckedHashes(record: RunRecord): RunRecord {
  const stages: Record<string, StageRecord> = {};
  for (const [name, entry] of Object.entries(record.stages)) {
    const { key, content_hash: content, ...rest } = entry;
    const checkedKey = parseKeyHash(key);
    const checkedContent = parseContentHash(content);
    stages[name] = { ...rest, ...(checkedKey ? { key: checkedKey } : {}), ...(checkedContent ? { content_hash: checkedContent } : {}) };
  }
  return { ...record, stages };
}

/**
 * Newest result first: by finished_at, then by id (start time). Not by start alone: runs of one
 * pipeline may overlap (several processes share a store), and the one that finished last holds its
 * latest results; a long run started before a short one would otherwise hide what it produced.
 */
export function newestFirst(a: RunRecord, b: RunRecord): number {
  // String(): a record is JSON from disk, and one written by hand may lack a field.
  return String(b.finished_at ?? '').localeCompare(String(a.finished_at ?? '')) || String(b.id).localeCompare(String(a.id));
}

/** All run records, newest result first (newestFirst). Unreadable files are skipped (a record is only history). */
export async function readRunRecords(storeRoot: string): Promise<RunRecord[]> {
  const dir = join(storeRoot, 'runs');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  const records: RunRecord[] = [];
  for (const name of names) {
    try {
      records.push(withCheckedHashes(JSON.parse(await readFile(join(dir, name), 'utf8')) as RunRecord));
    } catch {
      // A damaged record only loses history; keep going.
    }
  }
  return records.sort(newestFirst);
}

/** For each stage of a pipeline, its most recent successful (ran or cached) record. */
export function lastSuccessful(records: readonly RunRecord[], pipeline: string): Map<string, StageRecord> {
  const out = new Map<string, StageRecord>();
  for (const record of records) {
    if (record.pipeline !== pipeline) continue;
    for (const [stage, entry] of Object.entries(record.stages)) {
      if (!out.has(stage) && (entry.status === 'ran' || entry.status === 'cached') && entry.key_record) out.set(stage, entry);
    }
  }
  return out;
}
