/**
 * Imports a user's plugin module (TypeScript or JavaScript) and picks out the stage and model
 * definitions it exports. Shared by the main thread (planning) and each stage's worker thread.
 *
 * TypeScript runs without a build step through jiti: it is pure JavaScript (no native binary, no
 * process-wide loader hook to register), so it works the same inside worker threads, and it
 * resolves the `./x.js` → `./x.ts` imports that TypeScript's NodeNext style writes.
 */
import type { ModelDefinition } from '../../stages/models/types.js';
import type { StageDefinition } from '../../stages/types.js';

export interface PluginExports {
  readonly stages: readonly { readonly exportName: string; readonly value: Record<string, unknown> }[];
  readonly models: readonly { readonly exportName: string; readonly value: Record<string, unknown> }[];
}

type Jiti = { import(id: string): Promise<unknown> };
let jiti: Jiti | undefined;

async function loader(): Promise<Jiti> {
  if (!jiti) {
    const { createJiti } = await import('jiti');
    // jiti's disk cache (node_modules/.cache/jiti or $TMPDIR/jiti) is keyed by each file's source hash,
    // so an edit is never served stale; it saves every stage thread a transpile (~0.4 s per plugin).
    jiti = createJiti(import.meta.url, { fsCache: true, moduleCache: true, interopDefault: true }) as Jiti;
  }
  return jiti;
}

export async function importPlugin(file: string): Promise<Record<string, unknown>> {
  const mod = await (await loader()).import(file);
  return typeof mod === 'object' && mod !== null ? (mod as Record<string, unknown>) : { default: mod };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A stage is an object with `kind` or `run`; a model one with `fit` or `load`. Other exports (helpers) are ignored. */
export function collectDefinitions(mod: Record<string, unknown>): PluginExports {
  const stages: { exportName: string; value: Record<string, unknown> }[] = [];
  const models: { exportName: string; value: Record<string, unknown> }[] = [];
  const seen = new Set<unknown>();
  const visit = (exportName: string, value: unknown, depth: number): void => {
    if (seen.has(value)) return;
    if (Array.isArray(value) && depth === 0) {
      value.forEach((v, i) => visit(`${exportName}[${i}]`, v, depth + 1));
      return;
    }
    if (!isObject(value)) return;
    seen.add(value);
    if (typeof value['fit'] === 'function' || (typeof value['load'] === 'function' && typeof value['name'] === 'string' && !('kind' in value))) {
      models.push({ exportName, value });
    } else if (typeof value['run'] === 'function' || typeof value['kind'] === 'string') {
      stages.push({ exportName, value });
    } else if (depth === 0 && exportName === 'default') {
      // `export default { stages: [...], models: [...] }`
      for (const [key, inner] of Object.entries(value)) visit(`default.${key}`, inner, 0);
    }
  };
  // `default` last: when it is an interop copy of the named exports, `seen` skips what they gave.
  const entries = Object.entries(mod).sort(([a], [b]) => Number(a === 'default') - Number(b === 'default'));
  for (const [name, value] of entries) visit(name, value, 0);
  return { stages, models };
}

/** What a worker thread needs: the definitions, unchecked (the main thread validated them when planning). */
export async function loadDefinitions(files: readonly string[]): Promise<{ stages: StageDefinition[]; models: ModelDefinition[] }> {
  const stages: StageDefinition[] = [];
  const models: ModelDefinition[] = [];
  for (const file of files) {
    const found = collectDefinitions(await importPlugin(file));
    stages.push(...found.stages.map((s) => s.value as unknown as StageDefinition));
    models.push(...found.models.map((m) => m.value as unknown as ModelDefinition));
  }
  return { stages, models };
}
