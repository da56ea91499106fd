/**
 * `exec`: runs any command (a Python script, a shell tool) as a stage. Inputs arrive as directories
 * (env vars and `{inputs.NAME}` placeholders), outputs go under `{out}`, `deps` (by default the
 * script) join the cache key through the runner (see `execCode`), and the exit code, stdout and
 * stderr are kept in the artifact's `exec.log`. A non-zero exit fails the stage with the stderr
 * tail and keeps nothing. The command runs with the user's rights: pipe does not sandbox it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve, sep } from 'node:path';
import { loadSchema } from './schema.js';
import { StageInputError, type JsonValue, type Params, type StageDefinition } from './types.js';

/** The command failed (non-zero exit or killed): user-facing, no stack trace. */
export class ExecFailedError extends Error {
  readonly reason = 'exec-failed';
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
    const substitute = (arg: string): string =>
      arg.replace(PLACEHOLDER, (_all, what: string, input: string | undefined) => {
        if (what === 'out') return ctx.outDir;
        const found = input === undefined ? undefined : ctx.inputs[input];
        if (!found) throw new StageInputError(`exec: cmd uses {inputs.${input ?? ''}} but the stage has no input "${input ?? ''}"; inputs: ${Object.keys(ctx.inputs).join(', ') || 'none'}`);
        return found.dir;
      });
    const argv = argvOf(ctx.params).map(substitute);
    const shell = ctx.params['shell'] === true;
    const extra = (ctx.params['env'] ?? {}) as Record<string, JsonValue>;
    const env: NodeJS.ProcessEnv = { ...process.env, PIPE_OUT: ctx.outDir, PIPE_STAGE: ctx.stage };
    for (const [name, input] of Object.entries(ctx.inputs)) env[envName(name)] = input.dir;
    for (const [name, value] of Object.entries(extra)) env[name] = text(value);
    const shown = shell ? argv.join(' ') : JSON.stringify(argv);
    ctx.log(`$ ${shown}`);

    const stdout = new Tail();
    const stderr = new Tail();
    const started = Date.now();
    // detached: the command leads its own process group, so Ctrl-C can stop it and everything it started.
    const child = shell
      ? spawn(argv.join(' '), { cwd: workDir, env, shell: true, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
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
      if (outcome.error.code === 'ENOENT') throw new StageInputError(`exec: command not found: ${argv[0] ?? ''} (looked in the pipeline's folder and PATH)`);
      throw new StageInputError(`exec: cannot start ${argv[0] ?? ''}: ${outcome.error.message}`);
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
      const tail = tailLines(stderr.text()) || tailLines(stdout.text()) || 'no output';
      throw new ExecFailedError(`${exit}; stderr: ${tail}`);
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
