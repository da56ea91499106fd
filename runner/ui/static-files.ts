/**
 * The page's own files: its client modules (compiled by tsc next to this file, in client/) and the
 * two libraries it uses, read from node_modules so the page works offline (no CDN): dagre lays out
 * the graph, plotly.js draws the charts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLIENT_DIR = fileURLToPath(new URL('./client/', import.meta.url));

function vendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  return {
    'dagre.js': join(dirname(require.resolve('@dagrejs/dagre')), 'dagre.min.js'),
    'plotly.js': require.resolve('plotly.js-dist-min'),
  };
}

/** The client's module names, for the page to preload them all at once instead of import by import. */
export async function clientModules(): Promise<string[]> {
  return (await readdir(CLIENT_DIR).catch(() => [] as string[])).filter((n) => /^[a-z][a-z0-9-]*\.js$/.test(n)).sort();
}

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

const cache = new Map<string, StaticFile>();

async function cached(id: string, path: string, type: string): Promise<StaticFile | undefined> {
  const hit = cache.get(id);
  if (hit) return hit;
  const body = await readFile(path).catch(() => undefined);
  if (!body) return undefined;
  const file = { body, type };
  cache.set(id, file);
  return file;
}

/** `/app/<module>.js` or `/vendor/<lib>.js`; anything else (or a name not in these lists) is not served. */
export async function staticFile(pathname: string): Promise<StaticFile | undefined> {
  const app = /^\/app\/([a-z][a-z0-9-]*\.js)$/.exec(pathname)?.[1];
  if (app) return cached(pathname, join(CLIENT_DIR, app), 'text/javascript; charset=utf-8');
  const vendor = /^\/vendor\/([a-z]+\.js)$/.exec(pathname)?.[1];
  const path = vendor ? vendorFiles()[vendor] : undefined;
  if (path) return cached(pathname, path, 'text/javascript; charset=utf-8');
  return undefined;
}
