/**
 * `exec`: runs any command (a Python script, a shell tool) as a stage. Inputs arrive as directories
 * (env vars and `{inputs.NAME}` placeholders), outputs go under `{out}`, `deps` (by default the
 * script) join the cache key through the runner (see `execCode`), and the exit code, stdout and
 * stderr are kept in the artifact's `exec.log`. A non-zero exit fails the stage with the stderr
 * tail and keeps nothing. The command runs with the user's rights: pipe does not sandbox it, but it
 * hands over only a short list of its own environment variables (INHERITED_ENV) and quotes every
 * value it substitutes into a `shell: true` command.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve, sep } from 'node:path';
import { assertNever, UserError } from './errors.js';
import { loadSchema } from './schema.js';
import { StageInputError, type JsonValue, type Params, type StageDefinition } from './types.js';

/**
 * The command failed (non-zero exit or killed). A UserError: the user's script failed, not pipe, so
 * the CLI prints the message without "internal error" and queue workers do not retry it (rerunning
 * a deterministic script that exits 3 only fails again).
 */
export class ExecFailedError extends UserError {
  readonly reason = 'exec-failed';
  constructor(
    readonly stage: string,
    /** `exit code 3` or `killed by SIGKILL`. */
    readonly exit: string,
    /** The last lines of stderr (or of stdout when stderr is empty), on one line. */
    readonly tail: { stream: 'stderr' | 'stdout'; text: string } | undefined,
  ) {
    super(`stage "${stage}": command failed with ${exit}; ${tail ? `${tail.stream}: ${tail.text}` : 'no output'}`);
  }
}

/**
 * The only variables a command inherits from pipe's own environment: what it needs to find programs
 * (PATH), its home and temporary folders, and the locale and time zone it formats text with. All
 * else stays behind on purpose: a queue worker's environment holds the shared cache's write
 * credentials (AWS_*, PIPE_REMOTE, PIPE_STORE), the queue's Redis URL with its password (PIPE_QUEUE)
 * and whatever else its operator set, and any pipeline's exec stage would otherwise read them. Those
 * variables are also not part of the cache key, so a command whose output depended on one would be
 * cached wrongly. A command that needs more gets it from the stage's `env:` param, which is in the
 * key. pipe then adds its own per-stage variables (PIPE_OUT, PIPE_STAGE, PIPE_INPUT_<NAME>).
 */
export const INHERITED_ENV = /^(?:PATH|HOME|LANG|LC_[A-Z]+|TZ|TMPDIR)$/;

/**
 * The command's whole environment: the INHERITED_ENV part of `parent`, then the stage's `env:`,
 * then pipe's per-stage variables (last, so they always hold; the schema refuses PIPE_ names in
 * `env:` anyway).
 */
export function commandEnv(parent: NodeJS.ProcessEnv, own: Readonly<Record<string, string>>, pipeVars: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) if (value !== undefined && INHERITED_ENV.test(name)) env[name] = value;
  return { ...env, ...own, ...pipeVars };
}

/** What quotes surround a point of a /bin/sh command: none, '…' or "…". */
export type ShellQuoting = 'none' | 'single' | 'double';

/**
 * `value` as literal text for /bin/sh at a point where the quoting is `quoting`: never split into
 * words, never globbed, never run. Outside quotes it becomes one POSIX single-quoted word (a `'` in
 * it is written `'\''`: close, escaped quote, reopen); inside '…' only its `'` need that; inside "…"
 * the four characters still special there (\ " $ `) get a backslash.
 */
export function shellQuote(value: string, quoting: ShellQuoting = 'none'): string {
  switch (quoting) {
    case 'none':
      return `'${value.replaceAll("'", "'\\''")}'`;
    case 'single':
      return value.replaceAll("'", "'\\''");
    case 'double':
      return value.replace(/[\\"$`]/g, '\\$&');
    default:
      return assertNever(quoting);
  }
}

/**
 * Replaces the placeholders of a `shell: true` command, each value quoted for the quoting around its
 * placeholder, so `cat {inputs.data}/x.txt`, `cat "{inputs.data}/x.txt"` and `echo '{out}'` all work
 * with a path holding spaces, quotes, `;` or `$`. The scan follows sh's quoting: '…', "…", backslash
 * escapes, $(…) (whose inside is unquoted again, even within "…") and `…` (the same, plus one more
 * level of backslash escapes, which the value gets too). A backslash before a placeholder's `{`
 * makes it literal, as in sh. Not followed: here-documents and a `case` pattern's `)` inside $(…);
 * a placeholder there is still quoted, perhaps for the wrong context.
 */
export function substituteForShell(command: string, valueOf: (what: string, input: string | undefined) => string): string {
  interface Frame {
    readonly quoting: ShellQuoting;
    /** Open parentheses of a $(…) frame, so its closing one is found. */
    parens?: number;
    /** A `…` frame: sh ends it at the next backtick, whatever quotes are open inside. */
    readonly backtick?: boolean;
  }
  const stack: Frame[] = [{ quoting: 'none' }];
  const placeholder = new RegExp(PLACEHOLDER.source, 'y');
  let out = '';
  let i = 0;
  while (i < command.length) {
    const top = stack[stack.length - 1] as Frame;
    let backtick = -1;
    stack.forEach((f, at) => {
      if (f.backtick) backtick = at;
    });
    placeholder.lastIndex = i;
    const m = placeholder.exec(command);
    if (m) {
      let quoted = shellQuote(valueOf(m[1] as string, m[2]), top.quoting);
      // sh removes one level of backslashes (those before a backslash, backtick or $) from the
      // inside of each `…` before parsing it, so the value gets one more level per enclosing `…`.
      for (const frame of stack) if (frame.backtick) quoted = quoted.replace(/[\\`$]/g, '\\$&');
      out += quoted;
      i += m[0].length;
      continue;
    }
    const c = command[i] as string;
    const pop = (): void => {
      if (stack.length > 1) stack.pop();
    };
    if (c === '\\' && (top.quoting !== 'single' || backtick > 0)) {
      out += command.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (c === '`' && backtick > 0) stack.length = backtick;
    else if (top.quoting === 'single') {
      if (c === "'") pop();
    } else if (c === '`') {
      stack.push({ quoting: 'none', backtick: true });
    } else if (c === '$' && command[i + 1] === '(') {
      stack.push({ quoting: 'none', parens: 1 });
      out += '$(';
      i += 2;
      continue;
    } else if (top.quoting === 'double') {
      if (c === '"') pop();
    } else if (c === "'") {
      stack.push({ quoting: 'single' });
    } else if (c === '"') {
      stack.push({ quoting: 'double' });
    } else if (top.parens !== undefined && c === '(') {
      top.parens += 1;
    } else if (top.parens !== undefined && c === ')') {
      top.parens -= 1;
      if (top.parens === 0) pop();
    }
    out += c;
    i += 1;
  }
  return out;
}

/** Signal-to-kill grace after Ctrl-C; shorter than the launcher's grace so the group is gone first. */
const KILL_GRACE_MS = 2000;
/** Bytes of each stream kept in memory for the log (the tail, if a command prints more). */
const KEEP_BYTES = 1 << 20;
const PLACEHOLDER = /\{(out|inputs\.([A-Za-z0-9_-]+))\}/g;

export const LOG_FILE = 'exec.log';

export function envName(input: string): string {
  return `PIPE_INPUT_${input.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function argvOf(params: Params): string[] {
  const cmd = params['cmd'];
  return Array.isArray(cmd) ? cmd.map(text) : [text(cmd)];
}

/** Placeholder input names used by cmd, to check them against the stage's inputs before running. */
export function placeholderInputs(params: Params): { index: number; name: string }[] {
  const out: { index: number; name: string }[] = [];
  argvOf(params).forEach((arg, index) => {
    for (const m of arg.matchAll(PLACEHOLDER)) if (m[2] !== undefined) out.push({ index, name: m[2] });
  });
  return out;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Where the command would be found (PATH lookup for a bare name), or undefined. */
export function findCommand(command: string, workDir: string): string | undefined {
  if (command.includes('/')) {
    const path = resolve(workDir, command);
    return isExecutable(path) ? path : undefined;
  }
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/**
 * The files whose content joins the key: `deps` as written, or by default the first argv entry that
 * is a file inside the repository (the script; never the interpreter found on PATH).
 * Returns absolute paths, or the index of a dep that does not exist.
 */
export function execDeps(params: Params, workDir: string, repoRoot: string): { files: string[]; missing?: number } {
  const deps = params['deps'];
  if (Array.isArray(deps)) {
    const files: string[] = [];
    for (const [i, dep] of deps.entries()) {
      const path = resolve(workDir, text(dep));
      if (!existsSync(path)) return { files, missing: i };
      files.push(...walk(path));
    }
    return { files };
  }
  for (const arg of argvOf(params)) {
    if (arg.includes('{')) continue;
    const path = resolve(workDir, arg);
    if (inside(path, repoRoot) && existsSync(path) && statSync(path).isFile()) return { files: [path] };
  }
  return { files: [] };
}

/** A folder dep stands for every file under it, in a stable order. */
function walk(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => walk(join(path, e.name)));
}

/** Keeps the last KEEP_BYTES of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  dropped = 0;
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes > KEEP_BYTES && this.chunks.length > 1) {
      const first = this.chunks.shift() as Buffer;
      this.bytes -= first.length;
      this.dropped += first.length;
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** The last few non-empty lines, on one line, for the run summary. */
function tailLines(text: string, lines = 5, chars = 600): string {
  const kept = text.split('\n').map((l) => l.trimEnd()).filter((l) => l.length).slice(-lines).join(' | ');
  return kept.length > chars ? `…${kept.slice(-chars)}` : kept;
}

export const exec: StageDefinition = {
  kind: 'exec',
  version: 1,
  description: 'Runs a command (argv list, or a shell string with shell: true); inputs as directories, outputs under {out}',
  inputs: [],
  openInputs: true,
  schema: loadSchema('stages/exec'),
  async run(ctx) {
    const workDir = ctx.workDir ?? process.cwd();
    const valueOf = (what: string, input: string | undefined): string => {
      if (what === 'out') return ctx.outDir;
      const found = input === undefined ? undefined : ctx.inputs[input];
      if (!found) throw new StageInputError(`exec: cmd uses {inputs.${input ?? ''}} but the stage has no input "${input ?? ''}"; inputs: ${Object.keys(ctx.inputs).join(', ') || 'none'}`);
      return found.dir;
    };
    const shell = ctx.params['shell'] === true;
    // argv entries are handed over as they are; a shell command is one string whose substituted
    // values are quoted, since /bin/sh would otherwise split a path at a space or run what follows a `;`.
    const argv = shell ? [] : argvOf(ctx.params).map((arg) => arg.replace(PLACEHOLDER, (_all, what: string, input: string | undefined) => valueOf(what, input)));
    const command = shell ? substituteForShell(argvOf(ctx.params).join(' '), valueOf) : '';
    const own: Record<string, string> = {};
    for (const [name, value] of Object.entries((ctx.params['env'] ?? {}) as Record<string, JsonValue>)) own[name] = text(value);
    const pipeVars: Record<string, string> = { PIPE_OUT: ctx.outDir, PIPE_STAGE: ctx.stage };
    for (const [name, input] of Object.entries(ctx.inputs)) pipeVars[envName(name)] = input.dir;
    const env = commandEnv(process.env, own, pipeVars);
    ctx.log(`$ ${shell ? command : JSON.stringify(argv)}`);

    const stdout = new Tail();
    const stderr = new Tail();
    const started = Date.now();
    // detached: the command leads its own process group, so Ctrl-C can stop it and everything it started.
    const child = shell
      ? spawn(command, { cwd: workDir, env, shell: true, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(argv[0] as string, argv.slice(1), { cwd: workDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const onAbort = (): void => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const forward = (tail: Tail, prefix: string) => {
      let partial = '';
      return (chunk: Buffer): void => {
        tail.push(chunk);
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) ctx.log(`${prefix}${line}`);
      };
    };
    child.stdout.on('data', forward(stdout, ''));
    child.stderr.on('data', forward(stderr, 'stderr: '));

    const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((done) => {
      child.on('error', (error: NodeJS.ErrnoException) => done({ error }));
      child.on('close', (code, signal) => done({ code, signal }));
    }).finally(() => ctx.signal.removeEventListener('abort', onAbort));
    if ('error' in outcome) {
      const name = shell ? '/bin/sh' : (argv[0] ?? '');
      if (outcome.error.code === 'ENOENT') throw new StageInputError(`exec: command not found: ${name} (looked in the pipeline's folder and PATH)`);
      throw new StageInputError(`exec: cannot start ${name}: ${outcome.error.message}`);
    }
    const seconds = (Date.now() - started) / 1000;
    const exit = outcome.code !== null ? `exit code ${outcome.code}` : `killed by ${outcome.signal ?? 'a signal'}`;
    // The command as written (placeholders unexpanded) and no times: the log is one of the artifact's
    // files, so it must not differ between two runs that produced the same outputs (early cutoff).
    const written = argvOf(ctx.params);
    const log = [
      `$ ${shell ? written.join(' ') : JSON.stringify(written)}`,
      exit,
      `--- stdout${stdout.dropped ? ` (first ${stdout.dropped} bytes dropped)` : ''} ---`,
      stdout.text(),
      `--- stderr${stderr.dropped ? ` (first ${stderr.dropped} bytes dropped)` : ''} ---`,
      stderr.text(),
    ].join('\n');
    if (outcome.code !== 0) {
      const errText = tailLines(stderr.text());
      const outText = tailLines(stdout.text());
      throw new ExecFailedError(ctx.stage, exit, errText ? { stream: 'stderr', text: errText } : outText ? { stream: 'stdout', text: outText } : undefined);
    }
    for (const out of (ctx.params['outs'] ?? []) as string[]) {
      const path = resolve(ctx.outDir, out);
      if (isAbsolute(out) || !inside(path, ctx.outDir)) throw new StageInputError(`exec: declared output "${out}" must be a relative path under {out}`);
      if (!existsSync(path)) {
        throw new StageInputError(`exec: declared output "${out}" was not written (the command must write it under {out} / $PIPE_OUT; it wrote: ${readdirSync(ctx.outDir).join(', ') || 'nothing'})`);
      }
    }
    // Kept with the artifact; a command whose output varies run to run (timings) defeats early cutoff.
    await writeFile(join(ctx.outDir, LOG_FILE), log);
    const metrics: Record<string, JsonValue> = { exit_code: 0, command_s: Number(seconds.toFixed(3)) };
    // A command may report its own figures in metrics.json (numbers and strings are shown by `pipe show`).
    if (existsSync(join(ctx.outDir, 'metrics.json'))) {
      try {
        const own = JSON.parse(await readFile(join(ctx.outDir, 'metrics.json'), 'utf8')) as unknown;
        if (own && typeof own === 'object' && !Array.isArray(own)) {
          for (const [k, v] of Object.entries(own)) if (typeof v === 'number' || typeof v === 'string') metrics[k] = v;
        }
      } catch {
        throw new StageInputError('exec: the command wrote metrics.json but it is not valid JSON');
      }
    }
    ctx.log(`exit code 0 after ${seconds.toFixed(1)} s; outputs: ${readdirSync(ctx.outDir).join(', ')}`);
    return { metrics };
  },
};

/** A param value as text: strings as they are, anything else as JSON (never "[object Object]"). */
function text(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}
