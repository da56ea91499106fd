/**
 * Parses a pipeline file with `yaml`, keeping node ranges so any JSON path can be turned back into
 * a file:line:col location (for schema errors, bad references, cycles).
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
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
  const diagnostics: Diagnostic[] = doc.errors.map((error) => ({
    severity: 'error',
    message: yamlMessage(error.code, error.message),
    location: { file, offset: error.pos[0], length: Math.max(1, error.pos[1] - error.pos[0]) },
  }));
  if (diagnostics.length > 0) return { diagnostics };
  const source: ParsedSource = {
    file,
    doc,
    data: doc.toJS({ maxAliasCount: 1000 }),
    locate: (path, part = 'value') => locate(file, doc, path, part),
  };
  return { source, diagnostics: [] };
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
  let best = rangeOf(file, doc.contents as Node | null);
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
