/**
 * What a `pipe worker` agrees to run. Anyone who can write to its Redis can enqueue a job, so a
 * worker runs users' code only when its operator said so: exec stages with --allow-exec, plugin
 * modules with --allow-plugins, and then only files inside its --repo checkout whose bytes are the
 * ones the job's key names. Everything else a job asks for is refused by name, before it runs.
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { STAGES } from '../../stages/index.js';
import { packageVersion, sha256File } from '../plugins/code-hash.js';
import { JobRefusedError } from '../execute/work-check.js';
import type { StageWork } from '../execute/stage-runner.js';

export interface WorkerPolicy {
  /** Run `exec` stages (arbitrary commands). */
  readonly allowExec: boolean;
  /** Load plugin modules (stage kinds and models from the user's repository). */
  readonly allowPlugins: boolean;
  /** The checkout the worker serves: every folder and file of users' code must be inside it. */
  readonly repo: string;
}

/** `path` with links resolved when it exists (so a link cannot lead outside), else as given. */
function real(path: string): string {
  return existsSync(path) ? realpathSync(path) : resolve(path);
}

function inside(root: string, path: string): boolean {
  const rel = relative(real(root), real(path));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The job as this worker will run it (its folder inside --repo), or a JobRefusedError naming the
 * flag or field. The rest of the job is checked against its key record in the stage's thread
 * (runner/execute/work-check.ts), by the rule `pipe run` uses for its own stages.
 */
export function admitJob(work: StageWork, policy: WorkerPolicy): StageWork {
  const builtIn = Object.hasOwn(STAGES, work.kind);
  if (work.kind === 'exec' && !policy.allowExec) {
    throw new JobRefusedError('kind', `exec stage ${work.stage} runs a command; this worker was not started with --allow-exec`);
  }
  const plugins = work.plugins ?? [];
  if ((!builtIn || plugins.length > 0) && !policy.allowPlugins) {
    throw new JobRefusedError('plugins', `stage ${work.stage} loads plugin code (${builtIn ? plugins.join(', ') : `kind ${work.kind}`}); this worker was not started with --allow-plugins`);
  }
  for (const plugin of plugins) {
    if (!isAbsolute(plugin) || !inside(policy.repo, plugin)) throw new JobRefusedError('plugins', `${plugin} is not inside this worker's --repo ${policy.repo}`);
  }
  const workDir = work.workDir ?? policy.repo;
  if (!inside(policy.repo, workDir)) throw new JobRefusedError('workDir', `${workDir} is not inside this worker's --repo ${policy.repo}`);
  checkCode(work, policy.repo);
  // Where the planning machine found its data files is not in the key record, only their hashes:
  // a worker locates its own copies and checks them against those (external-files.ts), so a job
  // cannot point a stage at any other file on this machine.
  return { ...work, workDir, external: { files: {} } };
}

/** The users' code the key names (plugin closures, exec deps) must be these bytes in this checkout. */
function checkCode(work: StageWork, repo: string): void {
  for (const [name, expected] of Object.entries(work.keyRecord.code ?? {})) {
    if (name.startsWith('npm:')) {
      const version = packageVersion(name.slice(4), join(repo, 'package.json'));
      if (version !== expected) throw new JobRefusedError(`code.${name}`, `the key was made with ${name.slice(4)} ${expected}, this worker's --repo has ${version ?? 'none'}`);
      continue;
    }
    const path = resolve(repo, name);
    if (isAbsolute(name) || !inside(repo, path)) throw new JobRefusedError(`code.${name}`, `the stage's code lies outside this worker's --repo ${repo}`);
    const actual = existsSync(path) ? sha256File(path) : undefined;
    if (actual !== expected) throw new JobRefusedError(`code.${name}`, `${actual === undefined ? 'missing' : 'different'} in this worker's --repo ${repo} (check out the commit the run was planned from)`);
  }
}
