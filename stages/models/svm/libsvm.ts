/**
 * Thin layer over libsvm-js (wasm build): loads it silently and trains one binary (class pair)
 * C-SVC, returning its support vectors as row indices plus dual coefficients and rho.
 *
 * Why per pair: libsvm's multi-class training is one-vs-one anyway (45 independent binary problems
 * for 10 classes), so training the pairs ourselves gives the same model while letting two worker
 * threads share them (~2× on 2 cores). And libsvm-js only exposes predicted labels (or -b 1
 * probabilities, which cost an internal 5-fold CV: ~5× the training time), not decision values;
 * with the coefficients in hand, ../svm.ts computes decision values itself with batched matMuls.
 */
import { createRequire } from 'node:module';

export interface LibsvmOptions {
  /** libsvm kernel_type: 0 linear, 1 poly, 2 rbf, 3 sigmoid. */
  readonly kernelType: number;
  readonly cost: number;
  readonly gamma: number;
  readonly degree: number;
  readonly coef0: number;
  readonly tolerance: number;
  readonly cacheMb: number;
  readonly shrinking: boolean;
}

/** One trained class pair: decision(x) = Σ coef[i]·K(x, row svIndex[i]) − rho; > 0 votes labels[0]. */
export interface PairModel {
  readonly labels: [number, number];
  readonly rho: number;
  /** Global training-row indices of the support vectors. */
  readonly svIndex: Int32Array;
  readonly coef: Float64Array;
}

interface LibsvmInstance {
  train(samples: ArrayLike<number>[], labels: number[]): void;
  getSVIndices(): number[];
  serializeModel(): string;
  free(): void;
}
type LibsvmCtor = new (options: Record<string, unknown>) => LibsvmInstance;

let loading: Promise<LibsvmCtor> | undefined;

/**
 * Loads libsvm-js once per thread. Its emscripten glue binds console.log/console.warn at load time
 * (and prints "wasm streaming compile failed… falling back" under Node), so both are muted while it
 * loads: the glue keeps the muted functions, and libsvm's own chatter is off via -q.
 */
export function loadLibsvm(): Promise<LibsvmCtor> {
  if (!loading) {
    const require = createRequire(import.meta.url);
    /* eslint-disable no-console -- libsvm's wasm build prints on load; silenced, then restored */
    const { log, warn } = console;
    const mute = (): void => {};
    console.log = mute;
    console.warn = mute;
    try {
      loading = require('libsvm-js/wasm') as Promise<LibsvmCtor>;
    } finally {
      console.log = log;
      console.warn = warn;
    }
    /* eslint-enable no-console */
  }
  return loading;
}

/** Parses rho, labels and the per-SV coefficients out of libsvm's model text (binary model). */
function parseBinaryModel(text: string): { labels: [number, number]; rho: number; coef: Float64Array } {
  const svAt = text.indexOf('\nSV\n');
  if (svAt < 0) throw new Error('libsvm model text has no SV section');
  const header = new Map<string, string>();
  for (const line of text.slice(0, svAt).split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) header.set(line.slice(0, space), line.slice(space + 1).trim());
  }
  const labels = (header.get('label') ?? '').split(/\s+/).map(Number);
  const rho = Number(header.get('rho'));
  const lines = text.slice(svAt + 4).split('\n').filter((l) => l.length > 0);
  const coef = Float64Array.from(lines, (l) => Number(l.slice(0, l.indexOf(' '))));
  if (labels.length !== 2 || !Number.isFinite(rho) || coef.some((c) => !Number.isFinite(c))) {
    throw new Error('libsvm model text is not a binary C-SVC model');
  }
  return { labels: [labels[0]!, labels[1]!], rho, coef };
}

/** Trains the binary problem of classes a and b on row-major features x [n, dims]. */
export async function trainPair(x: Float32Array, y: Uint8Array, n: number, dims: number, a: number, b: number, o: LibsvmOptions): Promise<PairModel> {
  const SVM = await loadLibsvm();
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if (y[i] === a || y[i] === b) rows.push(i);
  const samples = rows.map((i) => x.subarray(i * dims, (i + 1) * dims));
  const svm = new SVM({
    type: 0, // C-SVC
    kernel: o.kernelType,
    cost: o.cost,
    gamma: o.gamma,
    degree: o.degree,
    coef0: o.coef0,
    tolerance: o.tolerance,
    cacheSize: o.cacheMb,
    shrinking: o.shrinking,
    quiet: true,
  });
  try {
    svm.train(samples, rows.map((i) => y[i]!));
    const { labels, rho, coef } = parseBinaryModel(svm.serializeModel());
    const local = svm.getSVIndices();
    if (local.length !== coef.length) throw new Error(`libsvm returned ${local.length} SV indices for ${coef.length} coefficients`);
    return { labels, rho, coef, svIndex: Int32Array.from(local, (i) => rows[i]!) };
  } finally {
    svm.free();
  }
}
