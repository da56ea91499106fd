/**
 * Whole-file writes that readers never see half-done, and that two writers (threads, processes,
 * hosts on one NFS store) never tear: each write goes to a temp file of its own next to the target
 * (pid, a counter and random bytes in the name, starting with '.' so listings skip it) and is then
 * renamed into place. A fixed `${path}.tmp` would let two writers of one file truncate each
 * other's temp, and one of them then renames a file that is gone.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** A temp file name next to `path` that no other write, in this process or any other, uses. */
export function tempPath(path: string, tag: string): string {
  return join(dirname(path), `.${basename(path)}.${tag}.${process.pid}.${counter++}.${randomBytes(6).toString('hex')}`);
}

/** Replaces `path` with `data` in one rename: readers see the old content or the new one. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, tag = 'tmp'): Promise<void> {
  const tmp = tempPath(path, tag);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}
