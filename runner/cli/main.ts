/**
 * `pipe` command line. Exit codes: 0 ok, 1 a stage failed, 2 invalid pipeline or usage,
 * 3 `status` found stages that would run, 4 the store is busy (another `pipe gc` holds its lock), 130 interrupted. Expected failures print a located
 * message; only internal bugs print a stack (always with --debug).
 */
import { CommanderError, type Command } from 'commander';
import { closest, didYouMean, formatDiagnostic, PipelineInvalidError } from '../diagnostics.js';
import { assertNever, UserError } from '../../stages/errors.js';
import { EXIT } from './exit-codes.js';
import { longFlags, verbsOf } from './completion.js';
import { buildProgram } from './program.js';
import { UsageError } from './usage-error.js';

/** The verb an argv names ("run", "config render"), by the program's own tree. */
function verbIn(program: Command, argv: readonly string[]): { path: string; command: Command } | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const verbs = verbsOf(program);
  return verbs.find((v) => v.path === words.slice(0, 2).join(' ')) ?? verbs.find((v) => v.path === words[0]);
}

/**
 * Commander's parse errors, reworded as usage errors: the verb, the flag, and what to do. A flag
 * that belongs to another verb says which; a misspelt one gets the nearest flag of this verb.
 */
function usageErrorFrom(error: CommanderError, program: Command, argv: readonly string[]): UsageError {
  const plain = error.message.replace(/^error: /, '').replace(/\n\(Did you mean .*\)$/s, '').replace(/\.+$/, '');
  const verb = verbIn(program, argv);
  switch (error.code) {
    case 'commander.unknownOption': {
      const flag = (/unknown option '([^'=]+)/.exec(error.message)?.[1] ?? '').replace(/^-+/, '');
      if (!verb) return new UsageError(`unknown option --${flag}. Commands take their flags after the command name: pipe <command> --${flag}`);
      const own = longFlags(verb.command);
      const owners = verbsOf(program).filter((v) => longFlags(v.command).includes(`--${flag}`));
      if (owners.length > 0) {
        return new UsageError(`pipe ${verb.path} does not take --${flag} (an option of ${owners.map((v) => `pipe ${v.path}`).join(', ')}). Options of ${verb.path}: ${own.join(', ')}. See "pipe ${verb.path} --help".`);
      }
      return new UsageError(`unknown option --${flag}.${didYouMean(flag, own.map((o) => o.slice(2)))} See "pipe ${verb.path} --help".`);
    }
    case 'commander.unknownCommand': {
      const name = /unknown command '([^']+)'/.exec(error.message)?.[1] ?? '';
      // Inside a group (`pipe config rendr`) the candidates are the group's own verbs.
      const group = program.commands.find((c) => c.commands.length > 0 && c.name() === argv.find((a) => !a.startsWith('-')));
      const prefix = group ? `${group.name()} ` : '';
      const candidates = [...(group ?? program).commands.map((c) => c.name()), ...(group ? [] : ['help'])];
      const guess = closest(name, candidates);
      return new UsageError(`unknown command "${prefix}${name}".${guess ? ` Did you mean "${prefix}${guess}"?` : ''}`);
    }
    default:
      // Missing or surplus arguments, a value outside a flag's choices, conflicting flags.
      return new UsageError(verb ? `pipe ${verb.path}: ${plain}. See "pipe ${verb.path} --help".` : plain);
  }
}

async function dispatch(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  // Commander writes its own wording of an error to writeErr before throwing; only help shown as an
  // error (a bare `pipe`) is kept, everything else is reworded by usageErrorFrom.
  let commanderStderr = '';
  const program = buildProgram(
    (text) => process.stdout.write(text),
    (text) => {
      commanderStderr += text;
    },
    (exitCode) => {
      code = exitCode;
    },
  );
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    switch (error.code) {
      case 'commander.helpDisplayed':
      case 'commander.version':
        return EXIT.ok;
      case 'commander.help':
        // `pipe` alone: the overview, on stderr, as a usage error.
        process.stderr.write(commanderStderr);
        return EXIT.invalid;
      default:
        throw usageErrorFrom(error, program, argv);
    }
  }
}

/** One exit code and rendering per reason; the `never` guard makes a new reason a compile error here. */
function reportUserError(error: UserError, debug: boolean): number {
  const reason = error.reason;
  switch (reason) {
    case 'pipeline-invalid': {
      const diagnostics = error instanceof PipelineInvalidError ? error.diagnostics : [{ severity: 'error' as const, message: error.message }];
      process.stderr.write(`${diagnostics.map(formatDiagnostic).join('\n\n')}\n\n${diagnostics.length} problem(s) found; nothing was run.\n`);
      return EXIT.invalid;
    }
    case 'usage':
      process.stderr.write(`pipe: ${error.message}\n${/--help/.test(error.message) ? '' : 'Run "pipe --help" for usage.\n'}`);
      return EXIT.invalid;
    case 'store-busy':
      process.stderr.write(`pipe: ${error.message}\n`);
      return EXIT.busy;
    case 'interrupted':
      process.stderr.write('pipe: interrupted\n');
      return EXIT.interrupted;
    case 'stage-input':
    case 'backend-unavailable':
    case 'model-files':
    case 'npy-format':
    case 'remote-unavailable':
    case 'queue-unavailable':
    case 'worker-lost':
    case 'store-mismatch':
    case 'job-refused':
    case 'exec-failed':
      // Raised outside a stage (e.g. by `predict` or `report`): the command failed on its input.
      process.stderr.write(`pipe: ${error.message}\n${debug && error.stack ? `${error.stack}\n` : ''}`);
      return EXIT.failed;
    default:
      return assertNever(reason);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    return await dispatch(argv);
  } catch (error) {
    if (error instanceof UserError) return reportUserError(error, debug);
    process.stderr.write(`pipe: internal error: ${(error as Error | undefined)?.message ?? String(error)}\n${debug ? `${(error as Error | undefined)?.stack ?? ''}\n` : 'Rerun with --debug for the stack trace, and please report it.\n'}`);
    return EXIT.failed;
  }
}
