/**
 * Loads JSON Schemas from the top-level `schemas/` folder, the single source of truth for params.
 * Works both from TypeScript sources (tests) and from compiled `dist/` by locating the package root.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonSchema } from './types.js';

let root: string | undefined;

/** Directory holding pipe's package.json (the repository root). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'schemas')) || !existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('pipe: cannot find the package root (schemas/ next to package.json)');
    dir = parent;
  }
  root = dir;
  return dir;
}

const cache = new Map<string, JsonSchema>();

/** `loadSchema('stages/load')` reads `schemas/stages/load.schema.json` (once: callers may compare by identity). */
export function loadSchema(name: string): JsonSchema {
  let schema = cache.get(name);
  if (!schema) {
    const file = join(packageRoot(), 'schemas', `${name}.schema.json`);
    schema = JSON.parse(readFileSync(file, 'utf8')) as JsonSchema;
    cache.set(name, schema);
  }
  return schema;
}

/**
 * pipe's own schema keyword, on a param's property next to its `default`: while the param holds
 * that default it stays out of the cache key (runner/config/resolve.ts keyParamsOf). Declared to
 * ajv so strict compilation knows it and checks that its value is a boolean.
 */
export const KEY_OMIT_AT_DEFAULT = 'x-key-omit-at-default';
/**
 * On an `enum`: a value outside it gets "Did you mean …?" with the closest allowed one. Opt-in per
 * enum, because closeness is not always meaning: backend "gpu" is one letter from "cpu".
 */
export const SUGGEST_CLOSEST = 'x-suggest-closest';
export const PIPE_KEYWORDS = [
  { keyword: KEY_OMIT_AT_DEFAULT, schemaType: 'boolean' },
  { keyword: SUGGEST_CLOSEST, schemaType: 'boolean' },
] as const;
