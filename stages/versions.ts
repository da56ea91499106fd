/**
 * Installed versions of the packages that compute results, read from their package.json under
 * node_modules (what actually ran, not the ranges in pipe's package.json). Recorded in every
 * manifest's environment and, for the models, in train's metrics so the report can show them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from './schema.js';

/** The packages whose version can change a model's numbers; the tfjs-node ones only if installed. */
export const COMPUTE_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'libsvm-js', 'ml-matrix'] as const;

const cache = new Map<string, string | undefined>();

/** What pipe's own package.json declares: its version and the packages it depends on. */
export interface PipePackage {
  readonly version: string;
  readonly dependencies: Readonly<Record<string, string>>;
  readonly peerDependencies: Readonly<Record<string, string>>;
}

let pipePackageRead: PipePackage | undefined;

/** pipe's package.json, read once (`pipe --version` and every run's recorded environment). */
export function pipePackage(): PipePackage {
  if (!pipePackageRead) {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as Partial<PipePackage>;
    pipePackageRead = { version: typeof pkg.version === 'string' ? pkg.version : 'unknown', dependencies: pkg.dependencies ?? {}, peerDependencies: pkg.peerDependencies ?? {} };
  }
  return pipePackageRead;
}

/** Version of an installed package as Node would resolve it from pipe's root, or undefined. */
export function installedVersion(name: string): string | undefined {
  if (cache.has(name)) return cache.get(name);
  let version: string | undefined;
  for (let dir = packageRoot(); ; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(file)) {
      try {
        version = (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
      } catch {
        // An unreadable package.json: the version is unknown, which is what gets recorded.
      }
      break;
    }
    if (dirname(dir) === dir) break;
  }
  cache.set(name, version);
  return version;
}

/** name → installed version for the given packages that are present, plus node. */
export function installedVersions(names: readonly string[] = COMPUTE_PACKAGES): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const name of names) {
    const version = installedVersion(name);
    if (version !== undefined) out[name] = version;
  }
  return out;
}

/** One line for tables: "@tensorflow/tfjs 4.22.0, libsvm-js 0.2.1, node v20.20.2". */
export function versionLine(versions: Readonly<Record<string, string>>): string {
  return Object.entries(versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
}
