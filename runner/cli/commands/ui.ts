/** `pipe ui [file.yaml…]`: serve the read-only web app over the store until interrupted. */
import { existsSync } from 'node:fs';
import { pipelineFiles } from '../gc-plan.js';
import { planFile, storeRoot, type CommonFlags } from '../context.js';
import { parseCount } from '../numbers.js';
import type { Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';

export interface UiFlags extends CommonFlags {
  readonly files: readonly string[];
  readonly port?: string;
  readonly host?: string;
}

/**
 * The store the files name with `store:`, when they all name the same one (as `pipe status FILE`
 * would use it); otherwise none, and --store, $PIPE_STORE or .pipe decide. A file that does not
 * plan names none here: the page shows its error.
 */
async function declaredStore(files: readonly string[], flags: CommonFlags): Promise<string | undefined> {
  const stores = new Set<string | undefined>();
  for (const file of files) stores.add(await planFile(file, flags).then((p) => p.pipeline.store, () => undefined));
  return stores.size === 1 ? [...stores][0] : undefined;
}

export async function uiCommand(flags: UiFlags, write: Output): Promise<number> {
  const port = flags.port === undefined ? 4141 : parseCount(flags.port, '--port', 0, 65535);
  const files = await pipelineFiles(flags.files);
  if (!files.length) throw new UsageError('no pipeline files: name them (pipe ui pipelines/tiny.yaml) or run pipe ui where ./pipelines holds .yaml files');
  // A file that does not exist now is a typo, not a pipeline to watch for: say so before serving.
  // (One deleted or broken later shows its error in the page instead.)
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new UsageError(`no such pipeline file: ${missing.join(', ')}`);
  const host = flags.host ?? '127.0.0.1';
  const root = storeRoot(flags, await declaredStore(files, flags));
  const { startUi } = await import('../../ui/server.js');
  let server;
  try {
    server = await startUi({ files, root, flags, host, port });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${host} is in use: pick another with --port N (0 picks a free one)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`--host ${host}: not an address of this machine`);
    throw error;
  }
  write(`pipe ui: ${server.url} (read-only; store ${root}; ${files.join(', ')}). Ctrl-C to stop.\n`);
  const open = server;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await open.close();
  return 0;
}
