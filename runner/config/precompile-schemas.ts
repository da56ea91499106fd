/**
 * Build step (`npm run build`, after tsc): compiles every schema pipe validates with (the pipeline
 * file's, each stage kind's, and train's schema for each built-in model) into one CommonJS module
 * of ajv standalone validators, dist/runner/config/validators.cjs, so that commands start without
 * compiling schemas (schema-check.ts). Names are content hashes: a stale file is never used wrongly.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import standalone from 'ajv/dist/standalone/index.js';
import { loadSchema } from '../../stages/schema.js';
import { STAGES } from '../../stages/index.js';
import type { JsonSchema } from '../../stages/types.js';
import { schemaFor } from './resolve.js';
import { configuredAjv, validatorName } from './schema-check.js';

/** Every schema the planner and the stage threads check built-in params and files against. */
export function builtInSchemas(): JsonSchema[] {
  const out: JsonSchema[] = [loadSchema('pipeline')];
  for (const definition of Object.values(STAGES)) {
    const variant = definition.variant;
    if (!variant) {
      out.push(definition.schema);
      continue;
    }
    for (const option of Object.keys(variant.options)) {
      const chosen = schemaFor(definition, { [variant.param]: option });
      if ('schema' in chosen) out.push(chosen.schema);
    }
  }
  return out;
}

export function precompiledModule(): string {
  const ajv = configuredAjv({ code: { source: true } });
  const exports: Record<string, string> = {};
  for (const schema of builtInSchemas()) {
    const name = validatorName(schema);
    if (exports[name] !== undefined) continue;
    ajv.addSchema(schema, name);
    exports[name] = name;
  }
  // A CommonJS module whose exports are the function, with `.default` pointing at it; TypeScript
  // types the default import as the module object, so the call goes through `.default`.
  return standalone.default(ajv, exports);
}

// Run as a script: write the module next to schema-check.js.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'validators.cjs');
  writeFileSync(file, precompiledModule());
}
