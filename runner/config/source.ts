/**
 * Parses a pipeline file with `yaml`, keeping node ranges so any JSON path can be turned back into
 * a file:line:col location (for schema errors, bad references, cycles).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Alias, type Document, type Node } from 'yaml';
import type { Diagnostic, Location, SourceFile } from '../diagnostics.js';

export type JsonPath = readonly (string | number)[];

export interface ParsedSource {
  readonly file: SourceFile;
  readonly doc: Document;
  readonly data: unknown;
  /** Location of the value at `path` (or of its key with `part: 'key'`), falling back to the nearest parent. */
  locate(path: JsonPath, part?: 'key' | 'value'): Location | undefined;
}

export function parseSource(file: SourceFile): { source?: ParsedSource; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const overflow = doc.errors.find((error) => /Maximum call stack/.test(error.message));
  if (overflow) {
    // yaml catches its own stack overflow on very deep nesting; where it happens depends on the
    // stack size, so point at where the nesting first passes the limit instead.
    const offset = deepestPoint(file.text) ?? overflow.pos[0];
    return { diagnostics: [{ severity: 'error', message: tooDeepMessage, hint: tooDeepHint, location: { file, offset, length: 1 } }] };
  }
  const diagnostics: Diagnostic[] = doc.errors.map((error) => ({
    severity: 'error',
    message: yamlMessage(error.code, error.message),
    location: { file, offset: error.pos[0], length: Math.max(1, error.pos[1] - error.pos[0]) },
  }));
  if (diagnostics.length > 0) return { diagnostics };
  const hostile = hostileShapes(file, doc);
  if (hostile.length > 0) return { diagnostics: hostile };
  let data: unknown;
  try {
    // Our own alias count above is stricter; yaml's check stays as a second line of defence.
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    const first = firstAlias(doc);
    return { diagnostics: [{ severity: 'error', message: `cannot expand the YAML aliases in this file: ${(error as Error).message}`, hint: ALIAS_HINT, ...(first ? { location: nodeLocation(file, first) } : {}) }] };
  }
  const source: ParsedSource = { file, doc, data, locate: (path, part = 'value') => locate(file, doc, path, part) };
  return { source, diagnostics: [] };
}

/** Deeper than any real pipeline file (they need 5 or 6 levels), shallow enough for every recursive step after parsing. */
export const MAX_NESTING = 64;
/** Values that aliases may produce in total: plenty for reusing blocks, far below a "billion laughs" file. */
export const MAX_ALIAS_VALUES = 10_000;
const tooDeepMessage = `values are nested more than ${MAX_NESTING} levels deep here; a pipeline file needs only a few levels`;
const tooDeepHint = 'remove the extra brackets or indentation';

/**
 * Where nesting first passes MAX_NESTING, by a rough line scan (indentation levels plus open
 * brackets outside quotes and comments): only used to locate a file too deep for the parser.
 */
function deepestPoint(text: string): number | undefined {
  const indents: number[] = [];
  let brackets = 0;
  let offset = 0;
  for (const line of text.split('\n')) {
    const indent = line.length - line.trimStart().length;
    const content = line.trimStart();
    if (brackets === 0 && content !== '' && !content.startsWith('#')) {
      while (indents.length > 0 && (indents[indents.length - 1] ?? 0) >= indent) indents.pop();
      indents.push(indent);
      if (indents.length > MAX_NESTING) return offset + indent;
    }
    let quote: string | undefined;
    for (let i = indent; i < line.length; i++) {
      const c = line[i];
      if (quote) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '#' && (i === 0 || line[i - 1] === ' ')) break;
      else if (c === '[' || c === '{') {
        brackets++;
        if (indents.length + brackets > MAX_NESTING) return offset + i;
      } else if (c === ']' || c === '}') brackets = Math.max(0, brackets - 1);
    }
    offset += line.length + 1;
  }
  return undefined;
}

/** Keys that would reach Object.prototype when a file's maps become JavaScript objects. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const ALIAS_HINT = 'write the repeated values out, or alias them fewer times';

function nodeLocation(file: SourceFile, node: Node): Location {
  return rangeOf(file, node) ?? { file, offset: 0, length: 1 };
}

function firstAlias(doc: Document): Alias | undefined {
  let found: Alias | undefined;
  walk(doc, (node) => {
    if (!found && isAlias(node)) found = node;
    return undefined;
  });
  return found;
}

/** Pre-order walk without recursion, so no nesting depth can overflow the stack; `depth` counts collections. */
function walk(doc: Document, visit: (node: Node, depth: number, key: boolean) => 'stop' | undefined): void {
  const stack: { node: unknown; depth: number; key: boolean }[] = [{ node: doc.contents, depth: 0, key: false }];
  while (stack.length > 0) {
    const { node, depth, key } = stack.pop() as { node: unknown; depth: number; key: boolean };
    if (!node || typeof node !== 'object') continue;
    if (visit(node as Node, depth, key) === 'stop') return;
    if (isMap(node) || isSeq(node)) {
      const children: { node: unknown; depth: number; key: boolean }[] = [];
      for (const item of node.items as unknown[]) {
        if (isPair(item)) children.push({ node: item.key, depth: depth + 1, key: true }, { node: item.value, depth: depth + 1, key: false });
        else children.push({ node: item, depth: depth + 1, key: false });
      }
      stack.push(...children.reverse());
    }
  }
}

/**
 * Inputs that are valid YAML but hostile to a program: nesting deep enough to overflow recursion,
 * aliases that multiply into millions of values, and keys that reach Object.prototype. Each is
 * reported at its place in the file, before the document becomes JavaScript values.
 */
function hostileShapes(file: SourceFile, doc: Document): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  const anchored: Node[] = [];
  let tooDeep = false;
  walk(doc, (node, depth, key) => {
    if ((isMap(node) || isSeq(node)) && depth >= MAX_NESTING) {
      diagnostics.push({ severity: 'error', message: tooDeepMessage, hint: tooDeepHint, location: { ...nodeLocation(file, node), length: 1 } });
      tooDeep = true;
      return 'stop';
    }
    if (key && isScalar(node) && typeof node.value === 'string' && RESERVED_KEYS.has(node.value)) {
      diagnostics.push({ severity: 'error', message: `"${node.value}" cannot be used as a key: it is reserved by JavaScript objects`, hint: 'rename or remove this key', location: nodeLocation(file, node) });
    }
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target) targets.set(node, target);
    } else if (node.anchor) {
      anchors.set(node.anchor, node);
      anchored.push(node);
    }
  });
  if (tooDeep || targets.size === 0) return diagnostics;

  // Expanded size of each anchored node, innermost first, so an alias always finds its target's size.
  const sizes = new Map<Node, number>();
  const inProgress = new Set<Node>();
  const cyclic: Alias[] = [];
  const size = (node: unknown): number => {
    if (!node || typeof node !== 'object') return 0;
    if (isAlias(node)) {
      const target = targets.get(node);
      if (!target) return 1;
      if (inProgress.has(target)) {
        cyclic.push(node);
        return 1;
      }
      return sizes.get(target) ?? size(target);
    }
    const known = sizes.get(node as Node);
    if (known !== undefined) return known;
    inProgress.add(node as Node);
    let total = 1;
    if (isMap(node) || isSeq(node)) {
      for (const item of node.items as unknown[]) total += isPair(item) ? size(item.key) + size(item.value) : size(item);
    }
    inProgress.delete(node as Node);
    if ((node as Node).anchor) sizes.set(node as Node, total);
    return total;
  };
  for (const node of [...anchored].sort((a, b) => (a.range?.[1] ?? 0) - (b.range?.[1] ?? 0))) size(node);
  size(doc.contents);
  for (const alias of cyclic) {
    diagnostics.push({ severity: 'error', message: `alias *${alias.source} is inside its own anchor &${alias.source}, which makes an endless value`, hint: 'point the alias at a value defined before it', location: nodeLocation(file, alias) });
  }
  let produced = 0;
  let largest: { alias: Alias; values: number } | undefined;
  for (const [alias, target] of targets) {
    const values = sizes.get(target) ?? 1;
    produced += values;
    if (!largest || values > largest.values) largest = { alias, values };
  }
  if (largest && produced > MAX_ALIAS_VALUES) {
    diagnostics.push({
      severity: 'error',
      message: `the YAML aliases in this file expand to ${produced.toExponential(1).replace('e+', 'e')} values (more than ${MAX_ALIAS_VALUES.toLocaleString('en-US')}); this alias alone is ${largest.values.toLocaleString('en-US')}`,
      hint: ALIAS_HINT,
      location: nodeLocation(file, largest.alias),
    });
  }
  return diagnostics;
}

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0] ?? message;
  if (code === 'DUPLICATE_KEY') return `${first} (a stage or key is defined twice; rename or remove one)`;
  return `invalid YAML: ${first}`;
}

function rangeOf(file: SourceFile, node: Node | null | undefined): Location | undefined {
  const range = node?.range;
  if (!range) return undefined;
  return { file, offset: range[0], length: Math.max(1, range[1] - range[0]) };
}

function locate(file: SourceFile, doc: Document, path: JsonPath, part: 'key' | 'value'): Location | undefined {
  let node: unknown = doc.contents;
  let best = rangeOf(file, doc.contents);
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return best;
      const keyLoc = rangeOf(file, pair.key as Node);
      if (last && part === 'key') return keyLoc ?? best;
      node = pair.value;
      best = rangeOf(file, pair.value as Node) ?? keyLoc ?? best;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      best = rangeOf(file, node as Node) ?? best;
    } else {
      return best;
    }
  }
  return best;
}
