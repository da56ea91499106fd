/**
 * Memoised file hashing keyed by (path, size, mtime, inode), so no-op runs never re-read big files.
 * A changed file changes its mtime or size and is re-hashed; an untouched one costs one stat.
 */
import { readFile, stat, mkdir } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.js';
import { dirname } from 'node:path';
import { sha256File } from './hash.js';

interface Entry {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

export class FileHashMemo {
  private entries = new Map<string, Entry>();
  private dirty = false;

  private constructor(private readonly file: string) {}

  static async open(file: string): Promise<FileHashMemo> {
    const memo = new FileHashMemo(file);
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as Record<string, Entry>;
      for (const [path, entry] of Object.entries(parsed)) memo.entries.set(path, entry);
    } catch {
      // Missing or unreadable memo: start empty; it is only a cache.
    }
    return memo;
  }

  /** sha256 of the file at `path` (absolute), re-reading it only if it changed since last hashed. */
  async hash(path: string): Promise<string> {
    const info = await stat(path);
    const known = this.entries.get(path);
    if (known && known.size === info.size && known.mtimeMs === info.mtimeMs && known.ino === info.ino) {
      return known.sha256;
    }
    const digest = await sha256File(path);
    this.remember(path, { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino, sha256: digest });
    return digest;
  }

  /** Records a hash the caller just computed from the bytes it wrote. */
  async record(path: string, digest: string): Promise<void> {
    const info = await stat(path);
    this.remember(path, { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino, sha256: digest });
  }

  forget(prefix: string): void {
    for (const path of [...this.entries.keys()]) {
      if (path.startsWith(prefix)) {
        this.entries.delete(path);
        this.dirty = true;
      }
    }
  }

  private remember(path: string, entry: Entry): void {
    this.entries.set(path, entry);
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await mkdir(dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.entries)));
    this.dirty = false;
  }
}
