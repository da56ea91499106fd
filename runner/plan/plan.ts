/**
 * Builds the validated stage graph: resolves stages, detects cycles (reported with every edge's
 * location), orders stages topologically and computes critical-path priorities. Pure: no I/O.
 */
import { PipelineInvalidError, type Diagnostic } from '../diagnostics.js';
import { resolveStages, type StageRegistry } from '../config/resolve.js';
import type { PipelineConfig, Plan, PlanGraph, PlannedStage } from '../config/types.js';

export function plan(config: PipelineConfig, registry: StageRegistry): Plan {
  const diagnostics: Diagnostic[] = [...config.diagnostics];
  const stages = resolveStages(config, registry, diagnostics);
  if (diagnostics.length) throw new PipelineInvalidError(diagnostics);

  const byName = new Map(stages.map((s) => [s.name, s]));
  const dependencies = new Map<string, string[]>();
  for (const stage of stages) {
    const deps = new Set<string>();
    for (const input of Object.values(stage.inputs)) for (const ref of input.refs) deps.add(ref);
    // Sorted so cycle reports and orders are stable across runs.
    dependencies.set(stage.name, [...deps].sort());
  }
  const cycle = findCycle(stages, dependencies);
  if (cycle) throw new PipelineInvalidError([cycleDiagnostic(config, cycle, byName)]);

  const order = topologicalOrder(stages, dependencies);
  const dependents = new Map<string, string[]>(stages.map((s) => [s.name, []]));
  for (const [name, deps] of dependencies) for (const dep of deps) dependents.get(dep)?.push(name);
  const priority = new Map<string, number>();
  for (const name of [...order].reverse()) {
    const below = (dependents.get(name) ?? []).map((d) => priority.get(d) ?? 0);
    priority.set(name, 1 + Math.max(0, ...below));
  }
  return mint({ pipeline: config, stages: order.map((n) => byName.get(n) as PlannedStage), byName, dependencies, dependents, priority });
}

/** The one place the Plan brand is given. */
const mint = (graph: PlanGraph): Plan => graph as Plan;

/**
 * The same graph with the hashes of users' code on its stages and the pipeline's plugin modules
 * (runner/plugins/plan-code.ts). The stages must be the planned ones, in the planned order: only
 * their `code` may differ.
 */
export function withUserCode(planned: Plan, stages: readonly PlannedStage[], plugins: readonly string[]): Plan {
  if (stages.length !== planned.stages.length || stages.some((s, i) => s.name !== planned.stages[i]?.name)) {
    throw new Error('withUserCode: the stages are not the planned ones');
  }
  return mint({
    ...planned,
    pipeline: { ...planned.pipeline, ...(plugins.length ? { plugins } : {}) },
    stages,
    byName: new Map(stages.map((s) => [s.name, s])),
  });
}

function findCycle(stages: readonly PlannedStage[], dependencies: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of dependencies.get(name) ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const stage of [...stages].sort((a, b) => a.name.localeCompare(b.name))) {
    const found = visit(stage.name);
    if (found) return found;
  }
  return undefined;
}

function cycleDiagnostic(config: PipelineConfig, cycle: readonly string[], byName: ReadonlyMap<string, PlannedStage>): Diagnostic {
  // cycle = [a, b, …, a] where a depends on b: print it in data-flow order.
  const flow = [...cycle].reverse();
  const related = [];
  for (let i = 0; i < cycle.length - 1; i++) {
    const from = byName.get(cycle[i] ?? '');
    const to = cycle[i + 1] ?? '';
    if (!from) continue;
    const input = Object.entries(from.inputs).find(([, v]) => v.refs.includes(to))?.[0];
    const location = input ? config.source.locate([...from.path, 'inputs', input]) : undefined;
    if (location) related.push({ message: `"${from.name}" takes its input "${input ?? ''}" from "${to}"`, location });
  }
  const head = byName.get(cycle[0] ?? '');
  const location = head ? config.source.locate(head.path, 'key') : undefined;
  return {
    severity: 'error',
    message: `cycle in the stage graph: ${flow.join(' → ')}`,
    hint: 'a stage cannot depend on its own output; remove one of these inputs',
    ...(location ? { location } : {}),
    related,
  };
}

/** Kahn's algorithm with a name-sorted ready list, so equal graphs always give the same order. */
function topologicalOrder(stages: readonly PlannedStage[], dependencies: ReadonlyMap<string, readonly string[]>): string[] {
  const remaining = new Map(stages.map((s) => [s.name, (dependencies.get(s.name) ?? []).length]));
  const dependents = new Map<string, string[]>();
  for (const [name, deps] of dependencies) for (const dep of deps) dependents.set(dep, [...(dependents.get(dep) ?? []), name]);
  const ready = [...remaining].filter(([, n]) => n === 0).map(([name]) => name).sort();
  const order: string[] = [];
  while (ready.length) {
    const name = ready.shift() as string;
    order.push(name);
    for (const next of dependents.get(name) ?? []) {
      const left = (remaining.get(next) ?? 0) - 1;
      remaining.set(next, left);
      if (left === 0) {
        ready.push(next);
        ready.sort();
      }
    }
  }
  return order;
}

/** Stage names matching `--stage` selectors (exact names, groups, or `group[*]`), plus all their ancestors. */
export function selectTargets(planned: Plan, selectors: readonly string[]): { names: Set<string>; unknown: string[] } {
  const wanted = new Set<string>();
  const unknown: string[] = [];
  for (const selector of selectors) {
    const group = selector.endsWith('[*]') ? selector.slice(0, -3) : selector;
    const matches = planned.stages.filter((s) => s.name === selector || s.group === group);
    if (!matches.length) unknown.push(selector);
    for (const m of matches) wanted.add(m.name);
  }
  const names = new Set<string>();
  const add = (name: string): void => {
    if (names.has(name)) return;
    names.add(name);
    for (const dep of planned.dependencies.get(name) ?? []) add(dep);
  };
  for (const name of wanted) add(name);
  return { names, unknown };
}
