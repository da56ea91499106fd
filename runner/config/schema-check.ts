/**
 * ajv wrapper: validates params and pipeline files and turns errors into located, actionable
 * messages. Compiling a schema costs milliseconds each (about 0.15 s for a full pipeline), which
 * every `pipe status` would pay; so the build precompiles pipe's own schemas with ajv's standalone
 * code generator (precompile-schemas.ts, run by `npm run build`) into dist/runner/config/validators.cjs,
 * indexed by the sha256 of each schema's canonical JSON. A schema found there is used as compiled;
 * any other (a plugin's, or a schema edited since the build) is compiled here at first use, with the
 * same options, so both paths validate and report alike.
 */
import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv';
import type * as AjvModule from 'ajv';
import { canonicalJson, sha256 } from '../../artifacts/hash.js';
import type { JsonSchema } from '../../stages/types.js';
import { loadSchema, PIPE_KEYWORDS, SUGGEST_CLOSEST } from '../../stages/schema.js';
import { closest, didYouMean } from '../diagnostics.js';
import type { JsonPath } from './source.js';

/** The options every validator is compiled with, precompiled or not. */
export const VALIDATOR_OPTIONS: Options = { allErrors: true, useDefaults: true, strict: false, verbose: true };

/** An ajv instance configured as pipe validates: its keywords and the shared training schema. */
export function configuredAjv(extra: Options = {}): Ajv {
  // Loaded only when a schema must be compiled here: precompiled validators need none of ajv's compiler.
  const { Ajv: AjvClass } = require('ajv') as typeof AjvModule;
  const instance = new AjvClass({ ...VALIDATOR_OPTIONS, ...extra });
  for (const keyword of PIPE_KEYWORDS) instance.addKeyword({ ...keyword });
  // The model schemas refer to the shared training params by this relative name (editors resolve it
  // next to the file; ajv by the key given here).
  instance.addSchema(loadSchema('models/training'), 'training.schema.json');
  return instance;
}

/** The name a schema's precompiled validator is exported under: its content, hashed. */
export function validatorName(schema: JsonSchema): string {
  return `v${sha256(canonicalJson(schema)).slice(0, 32)}`;
}

const require = createRequire(import.meta.url);

let precompiled: Readonly<Record<string, ValidateFunction>> | undefined;
function precompiledValidators(): Readonly<Record<string, ValidateFunction>> {
  if (precompiled) return precompiled;
  try {
    // Next to this file in dist/; absent when running from the TypeScript sources (tests).
    precompiled = require('./validators.cjs') as Record<string, ValidateFunction>;
  } catch {
    precompiled = {};
  }
  return precompiled;
}

let ajv: Ajv | undefined;
// By content: train builds its variant schema afresh for every stage (resolve.ts schemaFor). By
// identity first, so a schema object seen before is not hashed again (a sweep checks one per variant).
const compiled = new Map<string, ValidateFunction>();
const seen = new WeakMap<JsonSchema, ValidateFunction>();

/**
 * The validator of `schema`: precompiled, or compiled here once per content. Throws ajv's error
 * when the schema itself does not compile (plugins' schemas are checked this way when they load).
 */
export function validatorFor(schema: JsonSchema): ValidateFunction {
  const known = seen.get(schema);
  if (known) return known;
  const name = validatorName(schema);
  let validate = compiled.get(name);
  if (!validate) {
    validate = precompiledValidators()[name] ?? (ajv ??= configuredAjv()).compile(schema);
    compiled.set(name, validate);
  }
  seen.set(schema, validate);
  return validate;
}

export interface SchemaProblem {
  /** Path relative to the validated value. */
  readonly path: JsonPath;
  /** Point at the key (unknown property) or the value. */
  readonly part: 'key' | 'value';
  readonly message: string;
}

/** Validates a deep copy (ajv fills defaults in place) and returns it with any problems. */
export function checkSchema<T>(schema: JsonSchema, value: T): { value: T; problems: SchemaProblem[] } {
  const validate = validatorFor(schema);
  const copy = structuredClone(value);
  if (validate(copy)) return { value: copy, problems: [] };
  return { value: copy, problems: simplify(validate.errors ?? []).map(describe) };
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** oneOf/anyOf produce one error per branch plus a summary; keep the most useful ones. */
function simplify(errors: ErrorObject[]): ErrorObject[] {
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.instancePath));
  // An if/then adds "must match "then" schema" beside the failure inside `then`, which says it all.
  const kept = errors.filter((e) => e.keyword !== 'if' && (e.keyword === 'oneOf' || e.keyword === 'anyOf' || !oneOfPaths.has(e.instancePath)));
  // "missing kind" next to an unknown "kindd" is the same mistake: keep only the specific message.
  const misspelt = new Set(
    kept
      .filter((e) => e.keyword === 'additionalProperties')
      .map((e) => {
        const allowed = Object.keys((e.parentSchema?.['properties'] as object | undefined) ?? {});
        return `${e.instancePath}|${closest(String((e.params as { additionalProperty: string }).additionalProperty), allowed) ?? ''}`;
      }),
  );
  const seen = new Set<string>();
  return kept.filter((e) => {
    // A bad key name fails the name's own schema (a `pattern` error pointing at the whole object)
    // and then `propertyNames` (naming the key): the second says it all.
    if (e.schemaPath.includes('/propertyNames/')) return false;
    if (e.keyword === 'required' && misspelt.has(`${e.instancePath}|${String((e.params as { missingProperty: string }).missingProperty)}`)) return false;
    const id = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function describe(error: ErrorObject): SchemaProblem {
  const path = pointerToPath(error.instancePath);
  const where = path.length ? `"${path.join('.')}"` : 'the value';
  switch (error.keyword) {
    case 'additionalProperties': {
      const extra = String((error.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys((error.parentSchema?.['properties'] as object | undefined) ?? {});
      return {
        path: [...path, extra],
        part: 'key',
        message: `unknown key "${extra}".${didYouMean(extra, allowed)}${allowed.length ? ` Allowed: ${allowed.join(', ')}.` : ''}`,
      };
    }
    case 'required': {
      const missing = String((error.params as { missingProperty: string }).missingProperty);
      return { path, part: 'key', message: `missing required key "${missing}" in ${where}` };
    }
    case 'enum': {
      const values = (error.params as { allowedValues: unknown[] }).allowedValues;
      const allowed = values.map((v) => JSON.stringify(v));
      // verbose: true puts the value in `data` and the enum's own schema in `parentSchema`.
      const guess = error.parentSchema?.[SUGGEST_CLOSEST] === true && typeof error.data === 'string' ? didYouMean(error.data, values.filter((v): v is string => typeof v === 'string')) : '';
      return { path, part: 'value', message: `${where} must be one of ${allowed.join(', ')}${guess ? `.${guess}` : ''}` };
    }
    case 'propertyNames': {
      const name = String((error.params as { propertyName: string }).propertyName);
      // The names' schema says what they may be (exec's env: names differ from stage names).
      const rule = (error.schema as { description?: unknown } | undefined)?.description;
      return { path: [...path, name], part: 'key', message: `invalid name "${name}": ${typeof rule === 'string' ? rule : "use lower-case letters, digits, '-' and '_', starting with a letter"}` };
    }
    case 'pattern':
      return { path, part: 'value', message: `${where} has an invalid format (expected pattern ${String((error.params as { pattern: string }).pattern)})` };
    case 'oneOf':
    case 'anyOf':
      return { path, part: 'value', message: `${where} has the wrong shape: expected a stage name or a list of stage names` };
    default:
      return { path, part: 'value', message: `${where} ${error.message ?? 'is invalid'}` };
  }
}
