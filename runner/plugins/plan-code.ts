/**
 * Planning with the user's code: loads the pipeline's plugins into one registry view, plans with it,
 * and records on each plugin or exec stage the hashes of the code it runs (`PlannedStage.code`,
 * which joins the cache key). Built-in stages get no `code`, so their keys do not change.
 */
import type { JsonValue } from '../../stages/types.js';
import { dirname, resolve } from 'node:path';
import { execDeps, findCommand, placeholderInputs } from '../../stages/exec.js';
import { PipelineInvalidError, type Diagnostic } from '../diagnostics.js';
import { loadPipeline, readPipelineFile } from '../config/load.js';
import type { JsonPath } from '../config/source.js';
import type { Plan, PlannedStage } from '../config/types.js';
import { plan, withUserCode } from '../plan/plan.js';
import { CodeHashError, codeClosure, repoPath, sha256File } from './code-hash.js';
import { loadRegistry, repoRootOf } from './registry.js';

export async function planWithPlugins(file: string, overrides: readonly string[], maxVariants?: number): Promise<Plan> {
  const source = await readPipelineFile(file);
  const repoRoot = repoRootOf(file);
  const view = await loadRegistry(source, repoRoot);
  const isManyInput = (kind: string, input: string): boolean => view.stages[kind]?.inputs.find((i) => i.name === input)?.many === true;
  const config = await loadPipeline(file, { overrides, isManyInput, ...(maxVariants !== undefined ? { maxVariants } : {}) });
  const planned = plan(config, view.stages);
  const diagnostics: Diagnostic[] = [];
  const workDir = dirname(resolve(file));
  const closures = new Map<string, Promise<Record<string, string>>>();
  const closure = (module: string): Promise<Record<string, string>> => {
    let found = closures.get(module);
    if (!found) closures.set(module, (found = codeClosure(module, repoRoot)));
    return found;
  };
  const at = (stage: PlannedStage, path: JsonPath): Pick<Diagnostic, 'location'> => {
    const location = config.source.locate([...stage.path, ...path]) ?? config.source.locate(stage.path, 'key');
    return location ? { location } : {};
  };

  const stages: PlannedStage[] = [];
  // Plugin-model code upstream of each stage: a stage that usesModels (evaluate, robustness…) runs
  // the model's code, so it must rerun when that code changes even if the retrained model's files
  // came out byte-identical.
  const modelCode = new Map<string, Record<string, string>>();
  for (const stage of planned.stages) {
    const modelModule = stage.kind === 'train' ? view.modelModules.get(scalarText(stage.params['model'])) : undefined;
    const module = view.stageModules.get(stage.kind) ?? modelModule;
    let code: Record<string, string> | undefined;
    try {
      if (module) code = await closure(module);
      else if (stage.kind === 'exec') code = execCode(stage, workDir, repoRoot, (message, path) => diagnostics.push({ severity: 'error', message, ...at(stage, path) }));
    } catch (error) {
      if (!(error instanceof CodeHashError)) throw error;
      diagnostics.push({ severity: 'error', message: `stage "${stage.name}": ${error.message}`, ...at(stage, ['kind']) });
    }
    const upstream: Record<string, string> = modelModule && code ? { ...code } : {};
    for (const dep of planned.dependencies.get(stage.name) ?? []) Object.assign(upstream, modelCode.get(dep));
    modelCode.set(stage.name, upstream);
    if (stage.definition.usesModels === true && Object.keys(upstream).length) code = { ...upstream, ...code };
    stages.push(code ? { ...stage, code } : stage);
  }
  if (diagnostics.length) throw new PipelineInvalidError(diagnostics);
  return withUserCode(planned, stages, view.modules);
}

/** exec's key code (deps) plus the checks that can be made before running: shell use, command found, placeholders. */
function execCode(stage: PlannedStage, workDir: string, repoRoot: string, problem: (message: string, path: JsonPath) => void): Record<string, string> {
  const cmd = stage.params['cmd'];
  const shell = stage.params['shell'] === true;
  if (typeof cmd === 'string' && !shell) {
    problem(`stage "${stage.name}": cmd is one string; give an argv list (e.g. [python3, script.py]) or set shell: true`, ['params', 'cmd']);
  }
  if (Array.isArray(cmd) && !shell) {
    const command = scalarText(cmd[0]);
    if (!command.includes('{') && !findCommand(command, workDir)) {
      problem(`stage "${stage.name}": command not found: ${command} (not in the pipeline's folder ${workDir} nor on PATH)`, ['params', 'cmd', 0]);
    }
  }
  for (const { index, name } of placeholderInputs(stage.params)) {
    if (!(name in stage.inputs)) problem(`stage "${stage.name}": cmd uses {inputs.${name}} but the stage has no input "${name}"; inputs: ${Object.keys(stage.inputs).join(', ') || 'none'}`, ['params', 'cmd', ...(Array.isArray(cmd) ? [index] : [])]);
  }
  const { files, missing } = execDeps(stage.params, workDir, repoRoot);
  if (missing !== undefined) problem(`stage "${stage.name}": dep ${JSON.stringify((stage.params['deps'] as string[])[missing])} does not exist (deps are relative to the pipeline file)`, ['params', 'deps', missing]);
  const code: Record<string, string> = {};
  for (const path of files) {
    const name = repoPath(path, repoRoot);
    code[name.startsWith('..') ? path : name] = sha256File(path);
  }
  return code;
}

/** A param value as text: strings as they are, anything else as JSON (never "[object Object]"). */
function scalarText(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}
