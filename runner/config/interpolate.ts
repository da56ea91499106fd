/**
 * `${params.name}` interpolation over every string in the stages and defaults sections.
 * A string that is exactly one reference takes the referenced value with its type;
 * an embedded reference is stringified. Undefined references are located errors.
 */
import { didYouMean, type Diagnostic } from '../diagnostics.js';
import type { JsonPath, ParsedSource } from './source.js';

const REFERENCE = /\$\{([^}]*)\}/g;
const WHOLE = /^\$\{([^}]*)\}$/;

export function interpolate(
  value: unknown,
  path: JsonPath,
  vars: Readonly<Record<string, unknown>>,
  source: ParsedSource,
  diagnostics: Diagnostic[],
): unknown {
  if (typeof value === 'string') return interpolateString(value, path, vars, source, diagnostics);
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, [...path, i], vars, source, diagnostics));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) out[key] = interpolate(member, [...path, key], vars, source, diagnostics);
    return out;
  }
  return value;
}

function lookup(reference: string, vars: Readonly<Record<string, unknown>>): { found: true; value: unknown } | { found: false; available: string[] } {
  const parts = reference.trim().split('.');
  let node: unknown = vars;
  const walked: string[] = [];
  for (const part of parts) {
    if (node && typeof node === 'object' && !Array.isArray(node) && part in node) {
      node = (node as Record<string, unknown>)[part];
      walked.push(part);
    } else {
      const available = node && typeof node === 'object' ? Object.keys(node).map((k) => [...walked, k].join('.')) : [];
      return { found: false, available };
    }
  }
  return { found: true, value: node };
}

function interpolateString(
  text: string,
  path: JsonPath,
  vars: Readonly<Record<string, unknown>>,
  source: ParsedSource,
  diagnostics: Diagnostic[],
): unknown {
  if (!text.includes('${')) return text;
  const report = (reference: string, available: string[]): void => {
    const location = source.locate(path);
    diagnostics.push({
      severity: 'error',
      message: `undefined reference \${${reference}}.${didYouMean(reference, available)}`,
      hint: available.length ? `available: ${available.join(', ')}` : 'define it under the top-level `params:` block',
      ...(location ? { location } : {}),
    });
  };
  const whole = WHOLE.exec(text);
  if (whole) {
    const result = lookup(whole[1] ?? '', vars);
    if (!result.found) {
      report(whole[1] ?? '', result.available);
      return text;
    }
    return result.value;
  }
  return text.replace(REFERENCE, (match, reference: string) => {
    const result = lookup(reference, vars);
    if (!result.found) {
      report(reference, result.available);
      return match;
    }
    return typeof result.value === 'string' ? result.value : JSON.stringify(result.value);
  });
}
