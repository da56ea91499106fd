/** Turns a thrown value into StageErrorInfo: user errors (with a `reason`) lose their stack; bugs keep it. */
import type { StageErrorInfo } from './events.js';

export function errorInfo(error: unknown, aborted = false): StageErrorInfo {
  if (aborted) return { reason: 'interrupted', message: 'interrupted' };
  if (error instanceof Error) {
    const reason = (error as { reason?: unknown }).reason;
    if (typeof reason === 'string') return { reason, message: error.message };
    return { reason: 'internal', message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  }
  return { reason: 'internal', message: String(error) };
}
