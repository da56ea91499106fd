/**
 * The command tree (runner/cli/program.ts): every verb documents itself with examples that use only
 * its own flags, parse errors are usage errors that name the verb, and the generated bash completion
 * completes verbs, flags, choices and pipeline files when bash itself runs it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { completionScript, verbsOf } from '../../runner/cli/completion.js';
import { buildProgram } from '../../runner/cli/program.js';

/** A program whose output is captured and whose verbs never run (their exit code is recorded). */
function capture(): { program: ReturnType<typeof buildProgram>; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const program = buildProgram(
    (t) => (out += t),
    (t) => (err += t),
    () => undefined,
  );
  return { program, out: () => out, err: () => err };
}

async function parseError(argv: readonly string[]): Promise<CommanderError> {
  const { program } = capture();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error;
    throw error;
  }
  throw new Error(`pipe ${argv.join(' ')} parsed`);
}

describe('every verb documents itself', () => {
  const verbs = verbsOf(capture().program);

  it('has the verbs the README lists', () => {
    expect(verbs.map((v) => v.path).sort()).toEqual(['best', 'compare', 'completion', 'config render', 'dag', 'gc', 'ls', 'predict', 'report', 'run', 'show', 'status', 'ui', 'worker', 'workers']);
  });

  it.each(verbs.map((v) => v.path))('pipe %s --help: its usage, flags and examples that use only its own flags', async (path) => {
    const { program, out } = capture();
    const error = await (async () => {
      try {
        await program.parseAsync([...path.split(' '), '--help'], { from: 'user' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).code).toBe('commander.helpDisplayed');
    const help = out();
    expect(help).toContain(`Usage: pipe ${path} `);
    const own = verbs.find((v) => v.path === path)?.command.options.map((o) => o.long) ?? [];
    for (const flag of own) expect(help).toContain(flag);
    const examples = help.slice(help.indexOf('Examples:')).split('\n').filter((l) => l.startsWith('  $ '));
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      expect(example.startsWith(`  $ pipe ${path}`)).toBe(true);
      for (const flag of example.match(/--[a-z-]+/g) ?? []) expect(own).toContain(flag);
    }
  });
});

describe('parse errors', () => {
  it('an unknown flag, a flag of another verb, a missing argument and a bad choice are commander errors main.ts rewords', async () => {
    expect((await parseError(['run', 'x.yaml', '--jobz', '2'])).code).toBe('commander.unknownOption');
    expect((await parseError(['ls', '--yes'])).code).toBe('commander.unknownOption');
    expect((await parseError(['run'])).code).toBe('commander.missingArgument');
    expect((await parseError(['dag', 'x.yaml', '--format', 'png'])).code).toBe('commander.invalidArgument');
    expect((await parseError(['best', 'x.yaml', '--max', '--min'])).code).toBe('commander.conflictingOption');
    expect((await parseError(['show', 'a', 'b'])).code).toBe('commander.excessArguments');
    expect((await parseError(['ru'])).code).toBe('commander.unknownCommand');
  });
});

describe('bash completion, run by bash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-completion-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'pipelines'));
  writeFileSync(join(dir, 'pipelines', 'quick.yaml'), 'stages: {}\n');
  writeFileSync(join(dir, 'pipelines', 'notes.txt'), '');
  const script = join(dir, 'pipe.bash');
  writeFileSync(script, completionScript(capture().program, 'bash'));

  /** What Tab offers after these words (the last one is the word being completed). */
  const complete = (...words: string[]): string[] => {
    const quoted = ['pipe', ...words].map((w) => `'${w}'`).join(' ');
    const program = `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; _pipe; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync('bash', ['-c', program], { cwd: dir, encoding: 'utf8' }).split('\n').filter(Boolean).sort();
  };

  it('verbs, sub-verbs, per-verb flags, choices and pipeline files', () => {
    expect(complete('ru')).toEqual(['run']);
    expect(complete('config', 'r')).toEqual(['render']);
    expect(complete('run', 'pipelines/quick.yaml', '--jo')).toEqual(['--jobs']);
    // ls has no --jobs: per-verb flags, not one global set.
    expect(complete('ls', '--j')).toEqual(['--json']);
    expect(complete('dag', 'x.yaml', '--format', '')).toEqual(['dot', 'mermaid', 'text']);
    expect(complete('compare', 'x.yaml', '--format', 'm')).toEqual(['markdown']);
    expect(complete('run', 'pipelines/')).toEqual(['pipelines/quick.yaml']);
    // A nested verb's flags; a flag's value is not mistaken for a word of the verb.
    expect(complete('config', 'render', '--stage', 'x', '--s')).toEqual(['--set', '--stage', '--store']);
    expect(complete('completion', '')).toEqual(['bash', 'fish', 'zsh']);
  });
});

/** zsh and fish: CI installs both and always runs these; elsewhere a machine without them skips with a warning. */
const shellMissing = (shell: string): boolean => spawnSync(shell, ['-c', 'true']).status !== 0 && !process.env['CI'];
for (const shell of ['zsh', 'fish']) {
  // eslint-disable-next-line no-console -- the skip must be visible in the test output
  if (shellMissing(shell)) console.warn(`skipping the ${shell} completion test: ${shell} not found (apt-get install ${shell} to run it)`);
}

describe.skipIf(shellMissing('zsh'))('zsh completion, run by zsh (bashcompinit, as zsh calls it)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-zsh-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'pipelines'));
  writeFileSync(join(dir, 'pipelines', 'quick.yaml'), 'stages: {}\n');
  const script = join(dir, '_pipe');
  writeFileSync(script, completionScript(capture().program, 'zsh'));

  /** zsh's _bash_complete gives the function COMP_WORDS (1-based) and PREFIX; zsh filters by the prefix afterwards. */
  const complete = (...words: string[]): string[] => {
    const quoted = ['pipe', ...words].map((w) => `'${w}'`).join(' ');
    const program = `autoload -U compinit && compinit -u; source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; PREFIX='${words.at(-1) ?? ''}'; COMPREPLY=(); _pipe; print -l -- "\${COMPREPLY[@]}"`;
    const prefix = words.at(-1) ?? '';
    return execFileSync('zsh', ['-f', '-c', program], { cwd: dir, encoding: 'utf8' }).split('\n').filter((w) => w && w.startsWith(prefix)).sort();
  };

  it('counts words from 0 like bash: verbs, per-verb flags, choices and pipeline files', () => {
    expect(complete('ru')).toEqual(['run']);
    expect(complete('config', 'r')).toEqual(['render']);
    expect(complete('ls', '--j')).toEqual(['--json']);
    expect(complete('dag', 'x.yaml', '--format', 'm')).toEqual(['mermaid']);
    expect(complete('run', 'pipelines/q')).toEqual(['pipelines/quick.yaml']);
  });
});

describe.skipIf(shellMissing('fish'))('fish completion, run by fish', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-fish-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'pipe.fish');
  writeFileSync(script, completionScript(capture().program, 'fish'));
  /** `complete -C LINE` asks fish what Tab would offer after LINE. */
  const complete = (line: string): string[] =>
    execFileSync('fish', ['--no-config', '-c', `source '${script}'; complete -C '${line}'`], { cwd: dir, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0] ?? '')
      .sort();

  it('verbs, sub-verbs, per-verb flags and choices', () => {
    expect(complete('pipe ru')).toEqual(['run']);
    expect(complete('pipe config ')).toContain('render');
    expect(complete('pipe ls --j')).toEqual(['--json']);
    expect(complete('pipe dag x.yaml --format ')).toEqual(['dot', 'mermaid', 'text']);
  });
});
