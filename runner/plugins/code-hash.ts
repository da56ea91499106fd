/**
 * Content hashes of a plugin module and every local file it imports, transitively, so that editing
 * a helper two imports away reruns the stage (DVC #1577's missed rerun). Imports are found by the
 * TypeScript compiler itself: `transpileModule` drops type-only imports exactly as tsc does, then
 * `preProcessFile` lists the static imports, re-exports, `import('x')` and `require('x')` with literal
 * names. Bare package imports contribute `npm:<name>` → the installed version. The hash is over
 * bytes: a formatting-only edit reruns the stage too.
 */
import type TypeScript from 'typescript';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A located problem in the user's code (unresolvable import); the caller adds the YAML location. */
export class CodeHashError extends Error {
  readonly reason = 'code-hash';
}

const TS_EXT = new Set(['.ts', '.tsx', '.mts', '.cts']);
const SCANNED_EXT = new Set([...TS_EXT, '.js', '.jsx', '.mjs', '.cjs']);
const TRY_EXT = ['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs', '.json'];
const JS_TO_TS: Record<string, string[]> = { '.js': ['.ts', '.tsx'], '.jsx': ['.tsx'], '.mjs': ['.mts'], '.cjs': ['.cts'] };

type Ts = typeof TypeScript;
let tsModule: Ts | undefined;
async function typescript(): Promise<Ts> {
  // Loaded only for pipelines with plugins: it is big, and built-in pipelines never need it.
  tsModule ??= (await import('typescript')).default;
  return tsModule;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file a relative import names, the way Node and jiti find it (`./x.js` may be `./x.ts`). */
export function resolveLocal(specifier: string, from: string): string | undefined {
  const base = specifier.startsWith('file:') ? fileURLToPath(specifier) : resolve(dirname(from), specifier);
  if (isFile(base)) return base;
  const ext = extname(base);
  for (const alt of JS_TO_TS[ext] ?? []) if (isFile(base.slice(0, -ext.length) + alt)) return base.slice(0, -ext.length) + alt;
  for (const e of TRY_EXT) if (isFile(base + e)) return base + e;
  for (const e of TRY_EXT) if (isFile(join(base, `index${e}`))) return join(base, `index${e}`);
  return undefined;
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** The installed version of a package, found the way Node looks: node_modules folders upward. */
export function packageVersion(name: string, from: string): string | undefined {
  let dir = dirname(from);
  for (;;) {
    const manifest = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) {
      const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version;
      return typeof version === 'string' ? version : 'unversioned';
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

async function importsOf(file: string): Promise<string[]> {
  const ts = await typescript();
  let text = readFileSync(file, 'utf8');
  if (TS_EXT.has(extname(file))) {
    text = ts.transpileModule(text, { fileName: file, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, jsx: ts.JsxEmit.Preserve } }).outputText;
  }
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Key name of a file: its path relative to the repository, with forward slashes. */
export function repoPath(file: string, repoRoot: string): string {
  return relative(repoRoot, file).split(sep).join('/');
}

/**
 * `entry` plus its local imports (path relative to `repoRoot` → sha256) and its packages
 * (`npm:<name>` → version). Files outside the repository are still hashed, under their absolute path.
 */
export async function codeClosure(entry: string, repoRoot: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const queue = [entry];
  const done = new Set<string>();
  while (queue.length) {
    const file = queue.pop() as string;
    if (done.has(file)) continue;
    done.add(file);
    const name = repoPath(file, repoRoot);
    out[name.startsWith('..') ? file : name] = sha256File(file);
    if (!SCANNED_EXT.has(extname(file))) continue; // JSON, wasm, …: their bytes are the whole story
    for (const specifier of await importsOf(file)) {
      if (isBuiltin(specifier)) continue;
      if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')) {
        const target = resolveLocal(specifier, file);
        if (!target) throw new CodeHashError(`${repoPath(file, repoRoot)} imports "${specifier}", which is not a file (tried .ts, .js and index files); fix the import so pipe can hash it`);
        queue.push(target);
        continue;
      }
      const pkg = packageName(specifier);
      const version = packageVersion(pkg, file);
      if (version === undefined) throw new CodeHashError(`${repoPath(file, repoRoot)} imports package "${pkg}", which is not installed; run npm install ${pkg}`);
      out[`npm:${pkg}`] = version;
    }
  }
  return out;
}
