/**
 * User-facing problems with a location. Expected failures are values (Diagnostic[]), printed as
 * `file:line:col: message`, the source line and a ~~~ underline. Only internal bugs show stacks.
 */
import { distance } from 'fastest-levenshtein';
import { UserError } from '../stages/errors.js';

export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

export interface Location {
  readonly file: SourceFile;
  readonly offset: number;
  readonly length: number;
}

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** What to do about it, printed after the source excerpt. */
  readonly hint?: string;
  readonly location?: Location;
  readonly related?: readonly { readonly message: string; readonly location: Location }[];
}

/** Thrown to abort a command with diagnostics; caught once at the CLI top level (exit 2). */
export class PipelineInvalidError extends UserError {
  readonly reason = 'pipeline-invalid';
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map((d) => d.message).join('\n'));
  }
}

const lineStarts = new WeakMap<SourceFile, number[]>();

/** 1-based line and column of an offset, via a cached newline index. */
export function lineCol(file: SourceFile, offset: number): { line: number; col: number } {
  let starts = lineStarts.get(file);
  if (!starts) {
    starts = [0];
    for (let i = 0; i < file.text.length; i++) if (file.text[i] === '\n') starts.push(i + 1);
    lineStarts.set(file, starts);
  }
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - (starts[lo] ?? 0) + 1 };
}

/** Widest source excerpt printed; longer lines (a 3,000-bracket line) are cut to a window around the column. */
const EXCERPT_WIDTH = 100;

function excerpt(location: Location): string {
  const { line, col } = lineCol(location.file, location.offset);
  let text = location.file.text.split('\n')[line - 1] ?? '';
  let start = col - 1;
  if (text.length > EXCERPT_WIDTH) {
    const from = Math.max(0, Math.min(start - 20, text.length - EXCERPT_WIDTH));
    const to = from + EXCERPT_WIDTH;
    const head = from > 0 ? '…' : '';
    text = `${head}${text.slice(from, to)}${to < text.length ? '…' : ''}`;
    start = start - from + head.length;
  }
  const width = Math.max(1, Math.min(location.length, text.length - start));
  return `${String(line).padStart(4)} | ${text}\n     | ${' '.repeat(start)}${'~'.repeat(width)}`;
}

export function formatLocation(location: Location): string {
  const { line, col } = lineCol(location.file, location.offset);
  return `${location.file.path}:${line}:${col}`;
}

export function formatDiagnostic(d: Diagnostic): string {
  const head = d.location ? `${formatLocation(d.location)}: ${d.severity}: ${d.message}` : `${d.severity}: ${d.message}`;
  const parts = [head];
  if (d.location) parts.push(excerpt(d.location));
  for (const r of d.related ?? []) parts.push(`  ${formatLocation(r.location)}: ${r.message}\n${excerpt(r.location)}`);
  if (d.hint) parts.push(`  hint: ${d.hint}`);
  return parts.join('\n');
}

/** "did you mean" by edit distance; returns the closest candidate within a sensible distance. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const guess = closest(word, candidates);
  return guess ? ` Did you mean "${guess}"?` : '';
}
