/**
 * Watches the pipeline files `pipe ui` shows, so an edit turns the edited stage and its dependants
 * stale in the open page without a reload. Stat polling (fs.watchFile) rather than fs.watch: editors
 * save by writing a new file and renaming it over the old one, which an fs.watch on the file loses.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';

const INTERVAL_MS = 200;

export function watchPipelineFiles(files: readonly string[], onChange: (file: string) => void): () => void {
  const listeners = files.map((file) => {
    const listener = (now: Stats, before: Stats): void => {
      if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) onChange(file);
    };
    watchFile(file, { interval: INTERVAL_MS, persistent: false }, listener);
    return { file, listener };
  });
  return () => {
    for (const { file, listener } of listeners) unwatchFile(file, listener);
  };
}
