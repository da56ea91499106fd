/** ajv wrapper: compiles each schema once and turns errors into located, actionable messages. */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../../stages/types.js';
import { loadSchema, PIPE_KEYWORDS } from '../../stages/schema.js';
import { closest, didYouMean } from '../diagnostics.js';
import type { JsonPath } from './source.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
for (const keyword of PIPE_KEYWORDS) ajv.addKeyword({ ...keyword });
// The model schemas refer to the shared training params by this relative name (editors resolve it
// next to the file; ajv by the key given here).
ajv.addSchema(loadSchema('models/training'), 'training.schema.json');
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

export interface SchemaProblem {
  /** Path relative to the validated value. */
  readonly path: JsonPath;
  /** Point at the key (unknown property) or the value. */
  readonly part: 'key' | 'value';
  readonly message: string;
}

/** Validates a deep copy (ajv fills defaults in place) and returns it with any problems. */
export function checkSchema<T>(schema: JsonSchema, value: T): { value: T; problems: SchemaProblem[] } {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
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
  const kept = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf' || !oneOfPaths.has(e.instancePath));
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
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v));
      return { path, part: 'value', message: `${where} must be one of ${allowed.join(', ')}` };
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
