/** The exit codes of `pipe`, in one place (main.ts words each; status and report return them). */
export const EXIT = { ok: 0, failed: 1, invalid: 2, stale: 3, busy: 4, interrupted: 130 } as const;
