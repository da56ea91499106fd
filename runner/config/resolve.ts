/**
 * StageConfig → PlannedStage: checks the kind exists, merges `defaults.<kind>` under the stage's
 * params, validates them against the kind's (and variant's) schema with defaults filled in, and
 * resolves input references to stage names. All problems are collected, each with a location.
 */
import type { JsonSchema, JsonValue, Params, StageDefinition, StageVariant } from '../../stages/types.js';
import { didYouMean, type Diagnostic, type Location } from '../diagnostics.js';
import { canonicalJson } from '../../artifacts/hash.js';
import { KEY_OMIT_AT_DEFAULT } from '../../stages/schema.js';
import { checkAshaStage } from './asha.js';
import { parseRef } from './expand.js';
import { checkSchema } from './schema-check.js';
import type { JsonPath } from './source.js';
import type { PipelineConfig, PlannedInput, PlannedStage, Provenance, StageConfig } from './types.js';

export type StageRegistry = Readonly<Record<string, StageDefinition>>;

function locationOf(config: PipelineConfig, path: JsonPath, part: 'key' | 'value' = 'value'): { location?: Location } {
  const location = config.source.locate(path, part);
  return location ? { location } : {};
}

/** Maps a problem inside the merged params back to where the user wrote that value. */
function paramLocation(config: PipelineConfig, stage: StageConfig, provenance: Readonly<Record<string, Provenance>>, path: JsonPath, part: 'key' | 'value'): { location?: Location } {
  const top = path[0];
  const origin = top === undefined ? undefined : provenance[String(top)];
  if (origin && (origin.source === 'file' || origin.source === 'defaults')) return locationOf(config, [...origin.path, ...path.slice(1)], part);
  if (origin?.source === 'sweep') return locationOf(config, origin.path, 'key');
  return locationOf(config, [...stage.path, 'params'], 'key');
}

export function resolveStages(config: PipelineConfig, registry: StageRegistry, diagnostics: Diagnostic[]): PlannedStage[] {
  const names = new Map<string, string[]>(); // group → variant names
  for (const stage of config.stages) names.set(stage.group, [...(names.get(stage.group) ?? []), stage.name]);
  const allNames = config.stages.map((s) => s.name);
  const kinds = Object.keys(registry);
  // A sweep value wrong for every variant (an unknown key in matrix: or search.space) is said once.
  const reported = new Set<string>();

  const planned: PlannedStage[] = [];
  for (const stage of config.stages) {
    const definition = registry[stage.kind];
    if (!definition) {
      diagnostics.push({
        severity: 'error',
        message: `unknown stage kind "${stage.kind}" in stage "${stage.group}".${didYouMean(stage.kind, kinds)}`,
        hint: `known kinds: ${kinds.join(', ')}`,
        ...locationOf(config, [...stage.path, 'kind']),
      });
      continue;
    }
    const params = resolveParams(config, stage, definition, diagnostics, reported);
    const inputs = resolveInputs(config, stage, definition, names, allNames, diagnostics);
    if (!params || !inputs) continue;
    planned.push({
      name: stage.name,
      group: stage.group,
      kind: stage.kind,
      definition,
      impl: params.impl,
      params: params.values,
      keyParams: params.keyParams,
      provenance: params.provenance,
      inputs,
      ...(stage.variant ? { variant: stage.variant } : {}),
      path: stage.path,
    });
  }
  refuseAsha(config, registry, planned, diagnostics);
  return planned;
}

/**
 * asha searches: their settings are checked against the stage's schema and metrics, and then the
 * pipeline is refused, because asha cannot run yet; running its trials as a random search instead
 * would give results the file did not ask for.
 */
function refuseAsha(config: PipelineConfig, registry: StageRegistry, planned: readonly PlannedStage[], diagnostics: Diagnostic[]): void {
  const groups = new Map<string, StageConfig>();
  for (const stage of config.stages) if (stage.asha && !groups.has(stage.group)) groups.set(stage.group, stage);
  for (const [group, stage] of groups) {
    if (!stage.asha) continue;
    const at = (path: readonly (string | number)[]): { location?: Location } => locationOf(config, [...stage.path, 'search', ...path]);
    const definition = registry[stage.kind];
    // A trial whose params failed their own checks was reported already; its schema cannot be asked.
    const trial = planned.find((p) => p.group === group);
    if (definition && trial) {
      const chosen = schemaFor(definition, trial.params);
      if ('schema' in chosen) {
        for (const problem of checkAshaStage(stage.asha, stage.kind, chosen.schema, trial.params, definition.validationMetrics)) {
          diagnostics.push({ severity: 'error', message: `stage "${group}" ${problem.message}`, ...(problem.hint !== undefined ? { hint: problem.hint } : {}), ...at(problem.path) });
        }
      }
    }
    diagnostics.push({
      severity: 'error',
      message: `stage "${group}" uses search strategy asha, whose execution is not available yet; nothing was run rather than run its trials some other way`,
      hint: 'for now, use strategy: random with the same samples and space (and drop resource, min, max, eta, metric, mode)',
      ...at(['strategy']),
    });
  }
}

function resolveParams(
  config: PipelineConfig,
  stage: StageConfig,
  definition: StageDefinition,
  diagnostics: Diagnostic[],
  reported: Set<string>,
): { values: Params; keyParams: Params; provenance: Record<string, Provenance>; impl: string } | undefined {
  const kindDefaults = config.defaults[stage.kind] ?? {};
  const merged: Record<string, JsonValue> = { ...kindDefaults, ...stage.params };
  const provenance: Record<string, Provenance> = {};
  for (const key of Object.keys(kindDefaults)) provenance[key] = { source: 'defaults', path: ['defaults', stage.kind, key] };
  Object.assign(provenance, stage.provenance);

  const chosen = schemaFor(definition, merged);
  if ('unknown' in chosen) {
    const { variant, choice } = chosen.unknown;
    const options = Object.keys(variant.options);
    const choiceText = typeof choice === 'string' ? choice : JSON.stringify(choice);
    diagnostics.push({
      severity: 'error',
      message: choice === undefined ? `stage "${stage.group}" needs params.${variant.param}` : `unknown ${variant.param} "${choiceText}" in stage "${stage.group}".${didYouMean(choiceText, options)}`,
      hint: `known ${variant.param}s: ${options.join(', ')}`,
      ...paramLocation(config, stage, provenance, [variant.param], choice === undefined ? 'key' : 'value'),
    });
    return undefined;
  }
  const { schema, impl } = chosen;
  const { value, problems } = checkSchema(schema, merged);
  for (const problem of problems) {
    const location = paramLocation(config, stage, provenance, problem.path, problem.part);
    const id = `${stage.group}\0${problem.message}\0${String(location.location?.offset)}`;
    if (reported.has(id)) continue;
    reported.add(id);
    diagnostics.push({ severity: 'error', message: `stage "${stage.name}" params: ${problem.message}`, ...location });
  }
  if (problems.length) return undefined;
  // Checks between params (schedule_epochs ≥ epochs), reported where the first one was written.
  const crossProblems = definition.checkParams?.(value) ?? [];
  for (const problem of crossProblems) {
    diagnostics.push({
      severity: 'error',
      message: `stage "${stage.name}" params: ${problem.message}`,
      ...paramLocation(config, stage, provenance, [...problem.path], 'value'),
    });
  }
  if (crossProblems.length) return undefined;
  for (const key of Object.keys(value)) provenance[key] ??= { source: 'schema-default' };
  return { values: value, keyParams: keyParamsOf(schema, value), provenance, impl };
}

/**
 * The schema a stage's params are checked against and its implementation version: the kind's own,
 * or for a kind with variants (train's `model`) the chosen option's schema and `kind@v+option@v`.
 * The planner and the stage thread (runner/execute/work-check.ts) both ask here, so a job is
 * checked by the same rule it was planned by.
 */
export function schemaFor(
  definition: StageDefinition,
  params: Params,
): { schema: JsonSchema; impl: string } | { unknown: { readonly variant: StageVariant; readonly choice: JsonValue | undefined } } {
  const impl = `${definition.kind}@${definition.version}`;
  const variant = definition.variant;
  if (!variant) return { schema: definition.schema, impl };
  const choice = params[variant.param];
  const option = typeof choice === 'string' ? variant.options[choice] : undefined;
  if (!option || typeof choice !== 'string') return { unknown: { variant, choice } };
  // The option's schema plus the selector key itself.
  const properties = { ...((option.schema['properties'] as object | undefined) ?? {}), [variant.param]: { const: choice } };
  return { schema: { ...option.schema, properties }, impl: `${impl}+${choice}@${option.version}` };
}

/**
 * The params that join the cache key: all of them, except a param whose schema property is marked
 * `"x-key-omit-at-default": true` while it holds that default. The mark is for params added after
 * models were trained whose default reproduces the behaviour from before they existed (an
 * augmentation that is off): adding one must not retrain every cached model of that kind, and
 * setting it to anything else still changes the key.
 */
export function keyParamsOf(schema: JsonSchema, params: Params): Params {
  const props = (schema['properties'] ?? {}) as Record<string, { default?: JsonValue; [KEY_OMIT_AT_DEFAULT]?: boolean }>;
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(params)) {
    const prop = props[key];
    if (prop?.[KEY_OMIT_AT_DEFAULT] === true && prop.default !== undefined && canonicalJson(value) === canonicalJson(prop.default)) continue;
    out[key] = value;
  }
  return out;
}

function resolveInputs(
  config: PipelineConfig,
  stage: StageConfig,
  definition: StageDefinition,
  groups: ReadonlyMap<string, readonly string[]>,
  allNames: readonly string[],
  diagnostics: Diagnostic[],
): Record<string, PlannedInput> | undefined {
  const out: Record<string, PlannedInput> = {};
  let ok = true;
  const declared = definition.inputs.map((i) => i.name);
  for (const [input, written] of Object.entries(stage.inputs)) {
    const spec = definition.inputs.find((i) => i.name === input) ?? (definition.openInputs ? { name: input, required: false, description: '' } : undefined);
    const path = [...stage.path, 'inputs', input];
    if (!spec) {
      ok = false;
      diagnostics.push({
        severity: 'error',
        message: `stage "${stage.group}" (kind ${stage.kind}) has no input "${input}".${didYouMean(input, declared)}`,
        hint: declared.length ? `inputs of ${stage.kind}: ${declared.join(', ')}` : `${stage.kind} takes no inputs`,
        ...locationOf(config, path, 'key'),
      });
      continue;
    }
    const list = typeof written === 'string' ? [written] : written;
    if (!spec.many && list.length !== 1) {
      ok = false;
      diagnostics.push({ severity: 'error', message: `input "${input}" of stage "${stage.group}" takes one stage, not a list`, ...locationOf(config, path) });
      continue;
    }
    const refs: string[] = [];
    list.forEach((ref, index) => {
      const { group, selector } = parseRef(ref);
      const variants = groups.get(group);
      const refPath = typeof written === 'string' ? path : [...path, index];
      if (!variants) {
        ok = false;
        diagnostics.push({
          severity: 'error',
          message: `stage "${stage.group}" input "${input}" refers to "${ref}", which is not a stage.${didYouMean(group, [...groups.keys()])}`,
          ...locationOf(config, refPath),
        });
      } else if (selector === '*' || (selector === undefined && spec.many)) {
        refs.push(...variants);
      } else if (allNames.includes(ref)) {
        refs.push(ref);
      } else {
        ok = false;
        diagnostics.push({
          severity: 'error',
          message: `stage "${stage.group}" input "${input}" refers to "${ref}", which is not a stage.${didYouMean(ref, variants)}`,
          hint: `variants of ${group}: ${variants.join(', ')}`,
          ...locationOf(config, refPath),
        });
      }
    });
    out[input] = { many: spec.many === true, refs };
  }
  for (const spec of definition.inputs) {
    if (spec.required && !(spec.name in stage.inputs)) {
      ok = false;
      diagnostics.push({
        severity: 'error',
        message: `stage "${stage.group}" (kind ${stage.kind}) needs input "${spec.name}": ${spec.description}`,
        ...locationOf(config, stage.path, 'key'),
      });
    }
  }
  return ok ? out : undefined;
}
