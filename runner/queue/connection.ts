/**
 * Redis connections for BullMQ. The URL is checked once, up front, with a short timeout, so a
 * wrong host or a stopped server is one clear message naming the URL, not a reconnect loop.
 */
import { Redis } from 'ioredis';
import { UserError } from '../../stages/errors.js';
import { errorMessage } from '../../stages/errors.js';

/** BullMQ's queue name for pipe's stage jobs (one queue per Redis database / key prefix). */
export const QUEUE_NAME = 'pipe-stages';

export class QueueUnavailableError extends UserError {
  readonly reason = 'queue-unavailable';
}

/** A Redis URL for printing: its password (`rediss://:secret@host`) replaced by ***, else as given. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function validate(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QueueUnavailableError(`--queue "${withoutPassword(url)}" is not a URL: use redis://HOST:PORT (or rediss:// for TLS)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new QueueUnavailableError(`--queue "${withoutPassword(url)}" is not a Redis URL: use redis://HOST:PORT (or rediss:// for TLS)`);
}

/** Pings the server once; throws QueueUnavailableError naming the URL when it cannot. */
export async function checkRedis(url: string, timeoutMs = 3000): Promise<void> {
  validate(url);
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => undefined); // reported below, once
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    const detail = errorMessage(error);
    throw new QueueUnavailableError(`cannot reach Redis at ${withoutPassword(url)} (${detail}). Start redis-server there, or check --queue / PIPE_QUEUE.`);
  } finally {
    probe.disconnect();
  }
}

/** A connection for BullMQ: it requires maxRetriesPerRequest null so blocking calls never give up. */
export function bullConnection(url: string): Redis {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  // ioredis reconnects by itself; without a listener an outage would crash the process.
  connection.on('error', () => undefined);
  return connection;
}
