/**
 * `pipe ui`'s HTTP server (node:http): the page, its scripts, JSON over the store, and a stream of
 * server-sent events. Read-only: it answers GET (and HEAD) only, and reads artifacts directly from
 * the store, with no database of its own.
 */
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { LocalStoreReader } from '../../artifacts/store.js';
import { readRunRecords } from '../execute/run-records.js';
import { collectVariants, sweepColumns, variantDiff, type VariantRow } from '../cli/commands/compare.js';
import type { CommonFlags } from '../cli/context.js';
import type { DiffPayload, RunsPayload, SweepPayload } from './api-types.js';
import { artifactFile } from './artifact-file.js';
import { Board } from './board.js';
import { artifactsPayload, runRow } from './listings.js';
import { npySummary } from './npy-summary.js';
import { pageHtml } from './page.js';
import { RunTail } from './run-tail.js';
import { EventHub } from './sse.js';
import { stagePayload } from './stage-info.js';
import { clientModules, staticFile } from './static-files.js';
import { watchPipelineFiles } from './watch.js';

export interface UiOptions {
  readonly files: readonly string[];
  readonly root: string;
  readonly flags: CommonFlags;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

export interface UiServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Content types for previews; anything else downloads as bytes (a stored .html or .svg never runs in the page's origin). */
const INLINE_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.json': 'application/json; charset=utf-8', '.log': 'text/plain; charset=utf-8', '.txt': 'text/plain; charset=utf-8' };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(response: ServerResponse, body: unknown, status = 200): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

function param(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  if (value === null || value === '') throw new HttpError(400, `missing query parameter ${name}`);
  return value;
}

/**
 * Requests must name this server by a loopback name or the address it was bound to: a page on
 * another site that points a DNS name at 127.0.0.1 (DNS rebinding) cannot read the store.
 */
function hostAllowed(request: IncomingMessage, boundHost: string): boolean {
  const header = request.headers.host;
  if (!header) return false;
  const name = header.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === '127.0.0.1' || name === 'localhost' || name === '::1' || name === boundHost || boundHost === '0.0.0.0' || boundHost === '::';
}

export async function startUi(options: UiOptions): Promise<UiServer> {
  const { files, root, flags } = options;
  const store = await LocalStoreReader.openReadOnly(root);
  const hub = new EventHub();
  const page = pageHtml(`pipe ui · ${files.join(', ')}`, await clientModules());
  const board = new Board(files, root, flags, store, (graph) => hub.send('graph', graph));
  await board.refreshAll();
  const tail = new RunTail(root, board, {
    onProgress: (pipeline, stage, progress) => {
      for (const file of board.filesOf(pipeline)) hub.send('progress', { file, stage, progress });
    },
    onRuns: () => hub.send('runs', {}),
  });
  await tail.start();
  const unwatch = watchPipelineFiles(files, (file) => void board.refresh(file));

  /** The sweep variants of the pipeline file `?file=` names, as `pipe compare` collects them. */
  const sweepRows = async (url: URL): Promise<{ file: string; rows: VariantRow[] }> => {
    const file = param(url, 'file');
    const loaded = board.plan(file);
    if (!loaded) throw new HttpError(404, `${JSON.stringify(file)} is not a pipeline this ui shows, or it does not load`);
    return { file, rows: await collectVariants(loaded.plan, { ...flags, store: root }) };
  };

  const routes: Record<string, (url: URL, request: IncomingMessage, response: ServerResponse) => Promise<void>> = {
    '/api/pipelines': async (_url, _request, response) => sendJson(response, { pipelines: board.all() }),
    '/api/stage': async (url, _request, response) => {
      const file = param(url, 'file');
      const name = param(url, 'stage');
      const loaded = board.plan(file);
      const graphStage = board.graph(file)?.stages.find((s) => s.name === name);
      const payload = loaded && graphStage ? await stagePayload(file, name, loaded, graphStage, store) : undefined;
      if (!payload) throw new HttpError(404, `no stage ${JSON.stringify(name)} in ${JSON.stringify(file)}`);
      sendJson(response, payload);
    },
    '/api/runs': async (_url, _request, response) => {
      const body: RunsPayload = { runs: (await readRunRecords(root)).map(runRow), live: board.liveRuns() };
      sendJson(response, body);
    },
    '/api/sweep': async (url, _request, response) => {
      const { file, rows } = await sweepRows(url);
      const body: SweepPayload = { file, rows, ...sweepColumns(rows) };
      sendJson(response, body);
    },
    '/api/diff': async (url, _request, response) => {
      const { rows } = await sweepRows(url);
      const [a, b] = [param(url, 'a'), param(url, 'b')].map((v) => rows.find((r) => r.variant === v));
      if (!a || !b) throw new HttpError(404, 'no such variant in this sweep');
      const body: DiffPayload = { a: a.variant, b: b.variant, ...variantDiff(a, b) };
      sendJson(response, body);
    },
    '/api/artifacts': async (_url, _request, response) => sendJson(response, await artifactsPayload(store, root, files, flags)),
    '/api/npy': async (url, _request, response) => {
      const found = await artifactFile(store, url.searchParams.get('key'), url.searchParams.get('name'));
      if (!found.ok) throw new HttpError(found.status, found.message);
      sendJson(response, await npySummary(found.path, found.bytes));
    },
    '/api/file': async (url, request, response) => {
      const name = url.searchParams.get('name');
      const found = await artifactFile(store, url.searchParams.get('key'), name);
      if (!found.ok) throw new HttpError(found.status, found.message);
      const inline = url.searchParams.get('inline') === '1' ? INLINE_TYPES[extname(found.path).toLowerCase()] : undefined;
      const base = (name ?? 'file').split('/').pop() ?? 'file';
      response.writeHead(200, {
        'content-type': inline ?? 'application/octet-stream',
        'content-length': String(found.bytes),
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'",
        ...(inline ? {} : { 'content-disposition': `attachment; filename="${base.replace(/[^\w.-]/g, '_')}"` }),
      });
      if (request.method === 'HEAD') {
        response.end();
        return;
      }
      await new Promise<void>((resolve, reject) => {
        createReadStream(found.path).on('error', reject).on('end', resolve).pipe(response);
      });
    },
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (!hostAllowed(request, options.host)) throw new HttpError(421, 'this server answers requests for its own address only');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      throw new HttpError(405, 'pipe ui is read-only');
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(page);
      return;
    }
    if (url.pathname === '/api/events') {
      hub.open(request, response);
      return;
    }
    const route = routes[url.pathname];
    if (route) return route(url, request, response);
    const file = await staticFile(url.pathname);
    if (!file) throw new HttpError(404, `nothing at ${url.pathname}`);
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
    response.end(file.body);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof HttpError ? error.message : `internal error: ${(error as Error).message}`;
      if (!response.headersSent) sendJson(response, { error: message }, status);
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    async close() {
      unwatch();
      await tail.stop();
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}
