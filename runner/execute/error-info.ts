/** Turns a thrown value into StageErrorInfo: user errors (a UserError) lose their stack; bugs keep it. */
import { UserError } from '../../stages/errors.js';
import type { StageErrorInfo } from './events.js';

export function errorInfo(error: unknown, aborted = false): StageErrorInfo {
  if (aborted) return { reason: 'interrupted', message: 'interrupted' };
  if (error instanceof Error) {
    if (error instanceof UserError) return { reason: error.reason, message: error.message };
    return { reason: 'internal', message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  }
  return { reason: 'internal', message: String(error) };
}
