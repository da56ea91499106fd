/**
 * exec's shell quoting and environment, checked against the real /bin/sh: a substituted value must
 * reach the command as exactly one literal word whatever quoting surrounds its placeholder, and a
 * command must inherit only the allowlisted variables of pipe's own environment.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandEnv, INHERITED_ENV, shellQuote, substituteForShell } from '../../stages/exec.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'pipe-exec-shell-'));
});
afterAll(async () => rm(tmp, { recursive: true, force: true }));

/** Runs `command` through /bin/sh as exec does and returns its stdout. */
function sh(command: string): string {
  return execFileSync('/bin/sh', ['-c', command], { cwd: tmp, encoding: 'utf8' });
}

/** Values that break or inject when pasted unquoted, each also leaving a marker file if it ran. */
const nasty = (marker: string): string[] => [
  '/tmp/with space/dir',
  `/a;touch ${marker}`,
  `/a' ; touch ${marker}; echo '`,
  `/a" ; touch ${marker}; echo "`,
  `/$(touch ${marker})`,
  `/\`touch ${marker}\``,
  '/$HOME/*/?',
  '/back\\slash\\',
  "/'",
  '',
];

describe('shellQuote / substituteForShell', () => {
  it('each quoting context gets the value back as one literal word, and nothing in it runs', () => {
    const marker = join(tmp, 'injected');
    for (const value of nasty(marker)) {
      const cases: [string, string][] = [
        ['printf "<%s>\\n" {out}', `<${value}>`],
        ['printf "<%s>\\n" {out}/x.txt', `<${value}/x.txt>`],
        ['printf "<%s>\\n" "{out}/x.txt"', `<${value}/x.txt>`],
        ["printf '<%s>\\n' '{out}/x.txt'", `<${value}/x.txt>`],
        ['printf "<%s>\\n" "$(printf %s {out})"', `<${value}>`],
        ['printf "<%s>\\n" "`printf %s {out}`"', `<${value}>`],
        ['printf "<%s>\\n" "$( (printf %s {out}) )-{out}"', `<${value}-${value}>`],
      ];
      for (const [template, expected] of cases) {
        const command = substituteForShell(template, () => value);
        expect(sh(command), `${template} with ${JSON.stringify(value)} → ${command}`).toBe(`${expected}\n`);
      }
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('substitutes inputs by name and leaves a backslash-escaped placeholder as written', () => {
    const dirs: Record<string, string> = { out: '/o u t', data: '/d;a' };
    const command = substituteForShell('printf "%s|" {inputs.data} {out} \\{out}', (what, input) => dirs[input ?? what] ?? '?');
    expect(sh(command)).toBe('/d;a|/o u t|{out}|');
  });

  it('outside quotes a value is one POSIX single-quoted word', () => {
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('a"$`\\', 'double')).toBe('a\\"\\$\\`\\\\');
    expect(shellQuote("it's", 'single')).toBe("it'\\''s");
  });
});

describe('commandEnv', () => {
  it('keeps only PATH, HOME, the locale, TZ and TMPDIR from the parent; the stage env and pipe variables on top', () => {
    const parent: NodeJS.ProcessEnv = {
      PATH: '/usr/bin',
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      LC_NUMERIC: 'de_DE.UTF-8',
      TZ: 'UTC',
      TMPDIR: '/scratch',
      AWS_ACCESS_KEY_ID: 'AKIA',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
      PIPE_REMOTE: 's3://bucket/cache',
      PIPE_QUEUE: 'redis://:password@host:6379',
      PIPE_STORE: '/shared/store',
      SECRET_TOKEN: 'x',
      LD_PRELOAD: '/evil.so',
      PATHX: 'no',
      XLC_ALL: 'no',
    };
    const env = commandEnv(parent, { SEED: '7', PATH: '/only/mine' }, { PIPE_OUT: '/out', PIPE_INPUT_DATA: '/in' });
    expect(env).toEqual({
      PATH: '/only/mine',
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      LC_NUMERIC: 'de_DE.UTF-8',
      TZ: 'UTC',
      TMPDIR: '/scratch',
      SEED: '7',
      PIPE_OUT: '/out',
      PIPE_INPUT_DATA: '/in',
    });
    for (const name of ['AWS_ACCESS_KEY_ID', 'PIPE_REMOTE', 'PIPE_QUEUE', 'PIPE_STORE', 'PIPE_JOBS', 'NODE_OPTIONS']) expect(INHERITED_ENV.test(name)).toBe(false);
  });
});
