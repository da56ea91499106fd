/**
 * Picks the best TensorFlow.js backend present: tensorflow (tfjs-node-gpu, then tfjs-node) → wasm → cpu.
 * tfjs-node packages are optional peers: they need libtensorflow, which not every machine can download.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { UserError } from '../errors.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export class BackendUnavailableError extends UserError {
  readonly reason = 'backend-unavailable';
  constructor(readonly backend: string, detail: string) {
    super(`backend "${backend}" is not available: ${detail}`);
  }
}

/** The tfjs-node packages that provide the `tensorflow` backend, best first. */
const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/**
 * What `backend: auto` stands for on this machine, decided without loading TensorFlow.js:
 * `tensorflow` when a tfjs-node package is installed, else `wasm` (a dependency of pipe). The
 * runner puts this name, never "auto", in the cache key of every stage that uses a backend, since
 * the backend changes the bytes a training writes; and it hands the same name to the stage, which
 * then fails by name instead of falling back to another backend under the same key.
 */
export function autoBackend(): BackendName {
  const require = createRequire(import.meta.url);
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      require.resolve(pkg);
      return 'tensorflow';
    } catch {
      // Not installed: try the next one.
    }
  }
  return 'wasm';
}

let ready: Promise<{ tf: typeof TF; backend: BackendName }> | undefined;
let readyFor: BackendName | undefined;

async function tryTensorflow(): Promise<boolean> {
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      await import(pkg);
      return true;
    } catch {
      // Not installed (or its native library is missing): try the next one.
    }
  }
  return false;
}

async function setUp(preferred: BackendName | undefined): Promise<{ tf: typeof TF; backend: BackendName }> {
  const tf = await import('@tensorflow/tfjs');
  const order = preferred ? [preferred] : BACKENDS;
  for (const name of order) {
    if (name === 'tensorflow') {
      if (!(await tryTensorflow())) {
        if (preferred) throw new BackendUnavailableError(name, 'install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (needs internet to fetch libtensorflow)');
        continue;
      }
    } else if (name === 'wasm') {
      // Single-threaded SIMD build, on purpose: tfjs-backend-wasm 4.22 reports no thread support under Node
      // (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE, tfjs issue #3830), and forcing the flag fails at
      // start-up because its pthread workers are created from blob: URLs, which worker_threads rejects
      // (ERR_WORKER_PATH). The runner's parallelism comes from running stages side by side instead.
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const require = createRequire(import.meta.url);
      // The .wasm binaries sit next to the package's main file (dist/); the prefix must end with '/'.
      const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
      wasm.setWasmPaths(wasmDir.endsWith('/') ? wasmDir : `${wasmDir}/`);
      const { registerWasmTrainingKernels } = await import('./kernels/index.js');
      registerWasmTrainingKernels();
    }
    if (await tf.setBackend(name)) {
      await tf.ready();
      return { tf, backend: name };
    }
    if (preferred) throw new BackendUnavailableError(name, 'tf.setBackend failed');
  }
  throw new BackendUnavailableError('any', 'no TensorFlow.js backend could start');
}

/** Initialises TensorFlow.js once per thread; later calls return the same backend. */
export function initTf(preferred?: BackendName): Promise<{ tf: typeof TF; backend: BackendName }> {
  if (!ready || (preferred && preferred !== readyFor)) {
    ready = setUp(preferred);
    readyFor = preferred;
  }
  return ready;
}
