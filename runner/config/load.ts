/**
 * Pipeline file → PipelineConfig: parse (with positions), validate the file's shape against
 * schemas/pipeline.schema.json, apply `--set` overrides, interpolate `${params.*}`, expand sweeps.
 * Every problem is collected and returned at once; nothing here touches the artifact store.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { JsonValue } from '../../stages/types.js';
import { loadSchema } from '../../stages/schema.js';
import { didYouMean, PipelineInvalidError, type Diagnostic, type Location } from '../diagnostics.js';
import { matrixVariants, parseRef, setParam, variantSuffix, type Variant } from './expand.js';
import { interpolate } from './interpolate.js';
import { checkSearch, sampleTrials, SIGNIFICANT_DIGITS, type SearchSpec } from './search.js';
import { ashaSettings, checkAshaBlock } from './asha.js';
import { checkSchema } from './schema-check.js';
import { parseSource, RESERVED_KEYS, type JsonPath, type ParsedSource } from './source.js';
import { MAX_VARIANTS, type BackendChoice, type PipelineConfig, type Provenance, type StageConfig } from './types.js';

interface RawStage {
  kind: string;
  description?: string;
  inputs?: Record<string, string | string[]>;
  params?: Record<string, JsonValue>;
  matrix?: Record<string, JsonValue[]>;
  foreach?: Record<string, JsonValue>[];
  search?: SearchSpec;
}

type SweepKey = 'matrix' | 'foreach' | 'search';
const SWEEP_KEYS: readonly SweepKey[] = ['matrix', 'foreach', 'search'];

/** The sweep a stage declares itself (the first, if it wrongly declares several). */
function sweepOf(stage: RawStage): SweepKey | undefined {
  return SWEEP_KEYS.find((key) => stage[key] !== undefined);
}

interface RawPipeline {
  name?: string;
  description?: string;
  store?: string;
  remote?: string;
  queue?: string;
  backend?: BackendChoice;
  params?: Record<string, JsonValue>;
  defaults?: Record<string, Record<string, JsonValue>>;
  stages: Record<string, RawStage>;
}

export interface LoadOptions {
  /** `--set stage.param=value` or `--set params.name=value`, applied in order. */
  readonly overrides?: readonly string[];
  /** Whether an input of a stage kind takes a list of stages (from the stage registry). */
  readonly isManyInput: (kind: string, input: string) => boolean;
  /** Most variants one sweep may expand into (`--max-variants`); default MAX_VARIANTS. */
  readonly maxVariants?: number;
}

export async function readPipelineFile(path: string): Promise<ParsedSource> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new PipelineInvalidError([
      { severity: 'error', message: `cannot read pipeline file ${path}: ${code === 'ENOENT' ? 'no such file' : String(code)}`, hint: 'pass the path of a pipeline YAML file, e.g. pipelines/quick.yaml' },
    ]);
  }
  const { source, diagnostics } = parseSource({ path, text });
  if (!source) throw new PipelineInvalidError(diagnostics);
  return source;
}

function at(source: ParsedSource, path: JsonPath, part: 'key' | 'value' = 'value'): { location?: Location } {
  const location = source.locate(path, part);
  return location ? { location } : {};
}

interface Override {
  readonly target: string;
  readonly paramPath: string;
  readonly value: JsonValue;
  readonly text: string;
}

function parseOverride(text: string, diagnostics: Diagnostic[]): Override | undefined {
  // The target may be a variant name such as train[lr=0.1], which itself contains '=' and '.'.
  const bracketEnd = text.startsWith('[') ? -1 : text.indexOf(']');
  const searchFrom = bracketEnd >= 0 && text.indexOf('[') < text.indexOf('=') ? bracketEnd : 0;
  const eq = text.indexOf('=', searchFrom);
  const dot = text.indexOf('.', searchFrom);
  if (eq < 0 || dot < 0 || dot > eq) {
    diagnostics.push({ severity: 'error', message: `--set ${text}: expected STAGE.PARAM=VALUE or params.NAME=VALUE`, hint: 'e.g. --set train-cnn.epochs=5' });
    return undefined;
  }
  const paramPath = text.slice(dot + 1, eq);
  const reserved = paramPath.split('.').find((part) => RESERVED_KEYS.has(part));
  if (reserved !== undefined) {
    diagnostics.push({ severity: 'error', message: `--set ${text}: "${reserved}" cannot be used as a param name: it is reserved by JavaScript objects`, hint: 'e.g. --set train-cnn.epochs=5' });
    return undefined;
  }
  // The value goes through the same checks as the file (reserved keys, aliases, nesting).
  const { source, diagnostics: problems } = parseSource({ path: `--set ${text.slice(0, eq)}`, text: text.slice(eq + 1) });
  if (!source) {
    diagnostics.push(...problems);
    return undefined;
  }
  return { target: text.slice(0, dot), paramPath, value: (source.data ?? null) as JsonValue, text };
}

export async function loadPipeline(path: string, options: LoadOptions): Promise<PipelineConfig> {
  const source = await readPipelineFile(path);
  const diagnostics: Diagnostic[] = [];
  const shape = checkSchema(loadSchema('pipeline'), source.data);
  for (const problem of shape.problems) {
    diagnostics.push({ severity: 'error', message: problem.message, ...at(source, problem.path, problem.part) });
  }
  if (diagnostics.length) throw new PipelineInvalidError(diagnostics);
  // The validated copy: it carries the schema's defaults (search.seed, backend).
  const raw = shape.value as RawPipeline;

  const overrides = (options.overrides ?? []).map((text) => parseOverride(text, diagnostics)).filter((o): o is Override => o !== undefined);
  let vars: Record<string, JsonValue> = raw.params ?? {};
  for (const o of overrides.filter((o) => o.target === 'params')) vars = setParam(vars, o.paramPath, o.value);

  const defaults = interpolate(raw.defaults ?? {}, ['defaults'], { params: vars }, source, diagnostics) as RawPipeline['defaults'];
  const rawStages: Record<string, RawStage> = {};
  for (const [name, stage] of Object.entries(raw.stages)) {
    rawStages[name] = interpolate(stage, ['stages', name], { params: vars }, source, diagnostics) as RawStage;
  }

  const stages = expandStages(rawStages, source, options, diagnostics);
  const stageOverrides = overrides.filter((o) => o.target !== 'params');
  const withOverrides = stages.map((stage) => {
    let params = stage.params;
    const provenance: Record<string, Provenance> = { ...stage.provenance };
    for (const o of stageOverrides) {
      if (o.target !== stage.name && o.target !== stage.group) continue;
      params = setParam(params, o.paramPath, o.value);
      provenance[o.paramPath.split('.')[0] ?? o.paramPath] = { source: 'cli', text: `--set ${o.text}` };
    }
    return { ...stage, params, provenance };
  });
  if (diagnostics.length) throw new PipelineInvalidError(diagnostics);
  // Reported together with the planner's findings, so one run lists every problem.
  const deferred: Diagnostic[] = [];
  const known = new Set(stages.flatMap((s) => [s.name, s.group]));
  for (const o of stageOverrides) {
    if (!known.has(o.target)) {
      deferred.push({ severity: 'error', message: `--set ${o.text}: no stage named "${o.target}".${didYouMean(o.target, [...known])}` });
    }
  }
  return {
    name: raw.name ?? basename(path, extname(path)),
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    ...(raw.store !== undefined ? { store: raw.store } : {}),
    ...(raw.remote !== undefined ? { remote: raw.remote } : {}),
    ...(raw.queue !== undefined ? { queue: raw.queue } : {}),
    backend: raw.backend ?? 'auto',
    defaults: defaults ?? {},
    stages: withOverrides,
    source,
    diagnostics: deferred,
  };
}

/** Expands sweeps group by group, following single inputs so dependents expand with their upstream. */
function expandStages(raw: Record<string, RawStage>, source: ParsedSource, options: LoadOptions, diagnostics: Diagnostic[]): StageConfig[] {
  const variantsOf = new Map<string, Variant[] | undefined>();
  const visiting = new Set<string>();

  // Returns the variants a group expands into (undefined = not swept).
  const resolve = (group: string): Variant[] | undefined => {
    if (variantsOf.has(group)) return variantsOf.get(group);
    const stage = raw[group];
    if (!stage || visiting.has(group)) return undefined; // dangling refs and cycles are reported by the planner
    visiting.add(group);
    const own = ownVariants(group, stage, source, options, diagnostics);
    let inherited: Variant[] | undefined;
    let inheritedFrom: string | undefined;
    for (const [input, ref] of Object.entries(stage.inputs ?? {})) {
      if (Array.isArray(ref) || options.isManyInput(stage.kind, input)) continue;
      const upstream = resolve(parseRef(ref).group);
      if (!upstream || parseRef(ref).selector !== undefined) continue;
      if (inherited && inheritedFrom !== undefined && variantsOf.get(inheritedFrom) !== upstream && !sameVariants(inherited, upstream)) {
        diagnostics.push({ severity: 'error', message: `stage "${group}" takes inputs from two different sweeps; combine them in one matrix`, ...at(source, ['stages', group, 'inputs'], 'key') });
        continue;
      }
      inherited = upstream;
      inheritedFrom = parseRef(ref).group;
    }
    if (own && inherited) {
      diagnostics.push({ severity: 'error', message: `stage "${group}" declares a sweep and also depends on the swept stage "${inheritedFrom ?? ''}"; sweep one of them`, ...at(source, ['stages', group, sweepOf(stage) ?? 'matrix'], 'key') });
    }
    visiting.delete(group);
    const result = own ?? inherited;
    variantsOf.set(group, result);
    return result;
  };

  const out: StageConfig[] = [];
  for (const [group, stage] of Object.entries(raw)) {
    const variants = resolve(group);
    const ownSweep = sweepOf(stage);
    const asha = stage.search ? ashaSettings(stage.search) : undefined;
    const fileProvenance: Record<string, Provenance> = {};
    for (const key of Object.keys(stage.params ?? {})) fileProvenance[key] = { source: 'file', path: ['stages', group, 'params', key] };
    for (const variant of variants ?? [undefined]) {
      const suffix = variant ? `[${variantSuffix(variant)}]` : '';
      let params: Record<string, JsonValue> = { ...(stage.params ?? {}) };
      const provenance = { ...fileProvenance };
      if (variant && ownSweep) {
        for (const [key, value] of Object.entries(variant)) {
          params = setParam(params, key, value);
          // A search points at its space key: the one line that made this value.
          const path = ownSweep === 'search' ? ['stages', group, 'search', 'space', key] : ['stages', group, ownSweep];
          provenance[key.split('.')[0] ?? key] = { source: 'sweep', path };
        }
      }
      const inputs: Record<string, string | readonly string[]> = {};
      for (const [input, ref] of Object.entries(stage.inputs ?? {})) {
        inputs[input] = Array.isArray(ref) ? ref : variant && !options.isManyInput(stage.kind, input) && variantsOf.get(parseRef(ref).group) ? `${ref}${suffix}` : (ref);
      }
      out.push({
        name: `${group}${suffix}`,
        group,
        kind: stage.kind,
        ...(stage.description !== undefined ? { description: stage.description } : {}),
        inputs,
        params,
        provenance,
        ...(variant ? { variant } : {}),
        ...(asha ? { asha } : {}),
        path: ['stages', group],
      });
    }
  }
  return out;
}

/** The variants a stage's own sweep makes (undefined: none, or refused with diagnostics). */
function ownVariants(group: string, stage: RawStage, source: ParsedSource, options: LoadOptions, diagnostics: Diagnostic[]): Variant[] | undefined {
  const sweep = sweepOf(stage);
  if (sweep === undefined) return undefined;
  const others = SWEEP_KEYS.filter((key) => key !== sweep && stage[key] !== undefined);
  if (others.length) {
    diagnostics.push({
      severity: 'error',
      message: `stage "${group}" declares both ${sweep}: and ${others.join(': and ')}:; a stage sweeps one way`,
      hint: sweep === 'search' || others.includes('search') ? 'put fixed choices into search.space as lists (a list is a uniform choice), or sweep a copy of the stage' : 'merge them into one foreach: list',
      ...at(source, ['stages', group, others[0] ?? sweep], 'key'),
    });
    return undefined;
  }
  // Counted before expanding: a 6-axis matrix can mean 200,000 variants, each planned and keyed.
  const count = stage.matrix ? Object.values(stage.matrix).reduce((n, values) => n * values.length, 1) : stage.search ? stage.search.samples : (stage.foreach?.length ?? 0);
  const limit = options.maxVariants ?? MAX_VARIANTS;
  if (count > limit) {
    diagnostics.push({
      severity: 'error',
      message: `stage "${group}" ${sweep} expands to ${count.toLocaleString('en-US')} variants, more than the limit of ${limit.toLocaleString('en-US')}`,
      hint: `${sweep === 'search' ? 'lower samples' : 'sweep fewer values'}, or raise the limit with --max-variants ${count}`,
      ...(sweep === 'search' ? at(source, ['stages', group, 'search', 'samples']) : at(source, ['stages', group, sweep], 'key')),
    });
    return undefined;
  }
  if (stage.matrix) return matrixVariants(stage.matrix);
  if (stage.foreach) return stage.foreach;
  if (!stage.search) return undefined;
  return searchVariants(group, stage.search, source, diagnostics);
}

function searchVariants(group: string, search: SearchSpec, source: ParsedSource, diagnostics: Diagnostic[]): Variant[] | undefined {
  const base = ['stages', group, 'search'];
  const asWritten = (source.data as RawPipeline).stages[group]?.search;
  const problems = [...checkSearch(search), ...checkAshaBlock(search, Object.keys(asWritten ?? {}))];
  for (const problem of problems) {
    diagnostics.push({ severity: 'error', message: `stage "${group}" ${problem.message}`, ...(problem.hint !== undefined ? { hint: problem.hint } : {}), ...at(source, [...base, ...problem.path], problem.part) });
  }
  if (problems.length) return undefined;
  const trials = sampleTrials(search);
  if (!trials) {
    diagnostics.push({
      severity: 'error',
      message: `stage "${group}" search could not draw ${search.samples} distinct trials: its ranges are too narrow for that many at ${SIGNIFICANT_DIGITS} significant digits`,
      hint: 'widen a range, add a dimension, or lower samples',
      ...at(source, [...base, 'samples']),
    });
  }
  return trials;
}

function sameVariants(a: readonly Variant[], b: readonly Variant[]): boolean {
  return a.length === b.length && a.every((v, i) => variantSuffix(v) === variantSuffix(b[i] ?? {}));
}
