/**
 * Whole-number flags and environment variables (--jobs, $PIPE_JOBS, --top, --keep-last,
 * --max-variants). `Number()` alone accepts "", " 2", "1e3" and "0x10" and turns "abc" into NaN,
 * which then surfaces deep inside as an internal error; here anything but plain digits in range is
 * a usage error that names the flag.
 */
import { UsageError } from './usage-error.js';

export function parseCount(value: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
    throw new UsageError(`${name} must be ${range} (got "${value}")`);
  }
  return n;
}
