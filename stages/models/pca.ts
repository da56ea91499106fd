/**
 * PCA for flat models (`pca` param of knn/svm): fitted on training rows only, saved next to the model.
 *
 * Fit: covariance d×d with tfjs matMul over row chunks (37 G multiply-adds for 60k×784: ~5-8 s on
 * tfjs-wasm, single-threaded SIMD), accumulated in float64. Top components: ml-matrix's symmetric EVD
 * of the whole 784×784 covariance took 7.5 s (loaded machine), so for k ≤ d/3 we run block subspace
 * iteration instead (C·Q with Gram-Schmidt, Rayleigh-Ritz with ml-matrix's EVD of the small b×b
 * projection every 4 iterations; k = 50 settles in 20 iterations, ~1.5-3 s); larger k uses the full
 * EVD. Signs are fixed (largest |entry| positive) so the same data always gives the same components.
 *
 * Files (in the model dir, with an optional prefix): `pca.json` {components, dims, explained_variance,
 * explained_variance_ratio}, `pca_mean.npy` float32 [d], `pca_components.npy` float32 [k,d] (rows are
 * unit-norm components, as scikit-learn's `components_`). transform(x) = (x − mean)·componentsᵀ.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { readNpy, writeNpy } from '../../artifacts/npy.js';
import { initTf, type BackendName } from '../tf/backend.js';
import { Rng } from './tf/prng.js';
import { StageInputError } from '../types.js';
import { ModelFilesError } from '../errors.js';

export interface Pca {
  /** Input dims d. */
  readonly dims: number;
  /** Components k. */
  readonly k: number;
  readonly mean: Float32Array;
  /** Row-major [k, d]. */
  readonly components: Float32Array;
  readonly explainedVariance: number[];
  readonly explainedVarianceRatio: number[];
}

const CHUNK = 8192;

function abortCheck(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** Column means (float64 accumulation) of row-major [n, d]. */
function columnMeans(x: Float32Array, n: number, d: number): Float32Array {
  const sum = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let j = 0; j < d; j++) sum[j]! += x[off + j]!;
  }
  return Float32Array.from(sum, (s) => s / n);
}

/** Sample covariance (n − 1 denominator) as a float64 d×d matrix. */
async function covariance(x: Float32Array, n: number, d: number, mean: Float32Array, backend?: BackendName, signal?: AbortSignal): Promise<Float64Array> {
  const { tf } = await initTf(backend);
  const acc = new Float64Array(d * d);
  const mu = tf.tensor2d(mean, [1, d]);
  try {
    for (let start = 0; start < n; start += CHUNK) {
      abortCheck(signal);
      const rows = Math.min(CHUNK, n - start);
      const g = tf.tidy(() => {
        const xc = tf.sub(tf.tensor2d(x.subarray(start * d, (start + rows) * d), [rows, d]), mu);
        return tf.matMul(xc, xc, true, false);
      });
      const part = await g.data();
      g.dispose();
      for (let i = 0; i < acc.length; i++) acc[i]! += part[i]!;
      await new Promise((r) => setImmediate(r)); // lets abort and progress messages through
    }
  } finally {
    mu.dispose();
  }
  const denom = Math.max(1, n - 1);
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / denom;
  return acc;
}

/** Eigenpairs of a symmetric matrix, largest first: [values, vectors as columns]. */
function sortedEig(m: Matrix): { values: number[]; vectors: Matrix } {
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const v = evd.eigenvectorMatrix;
  const out = new Matrix(m.rows, order.length);
  order.forEach(([, src], dst) => {
    for (let r = 0; r < m.rows; r++) out.set(r, dst, v.get(r, src));
  });
  return { values: order.map(([val]) => val), vectors: out };
}

/** Orthonormalises the b columns of column-major q (d×b) in place (modified Gram-Schmidt, twice for stability). */
function orthonormalise(q: Float64Array, d: number, b: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < b; j++) {
      const cj = q.subarray(j * d, (j + 1) * d);
      for (let i = 0; i < j; i++) {
        const ci = q.subarray(i * d, (i + 1) * d);
        let dot = 0;
        for (let r = 0; r < d; r++) dot += ci[r]! * cj[r]!;
        for (let r = 0; r < d; r++) cj[r]! -= dot * ci[r]!;
      }
      let nrm = 0;
      for (let r = 0; r < d; r++) nrm += cj[r]! * cj[r]!;
      nrm = Math.sqrt(nrm);
      const inv = nrm > 0 ? 1 / nrm : 0;
      for (let r = 0; r < d; r++) cj[r]! *= inv;
    }
  }
}

/** z = c·q for row-major symmetric c (d×d) and column-major q (d×b). */
function multiply(c: Float64Array, q: Float64Array, d: number, b: number, z: Float64Array): void {
  for (let j = 0; j < b; j++) {
    const qj = q.subarray(j * d, (j + 1) * d);
    for (let r = 0; r < d; r++) {
      const row = c.subarray(r * d, (r + 1) * d);
      let s = 0;
      for (let t = 0; t < d; t++) s += row[t]! * qj[t]!;
      z[j * d + r] = s;
    }
  }
}

/**
 * Top-k eigenpairs of a symmetric PSD matrix (row-major float64 d×d): block subspace iteration with
 * a guard block and Rayleigh-Ritz (ml-matrix's EVD of the small b×b projection) every 4 iterations,
 * stopped when the top-k Ritz values settle. Large k falls back to ml-matrix's full EVD.
 */
export function topEigenpairs(c: Float64Array, d: number, k: number, seed: number): { values: number[]; vectors: Matrix } {
  if (k * 3 > d) {
    const all = sortedEig(Matrix.from1DArray(d, d, Array.from(c)));
    return { values: all.values.slice(0, k), vectors: all.vectors.subMatrix(0, d - 1, 0, k - 1) };
  }
  const b = Math.min(d, k + Math.max(10, Math.ceil(k / 2)));
  const rng = new Rng(seed);
  let q = Float64Array.from({ length: d * b }, () => rng.next() - 0.5);
  orthonormalise(q, d, b);
  let z = new Float64Array(d * b);
  let prev: number[] = [];
  for (let iter = 1; ; iter++) {
    multiply(c, q, d, b, z);
    if (iter % 4 === 0 || iter >= 400) {
      // Rayleigh-Ritz: T = qᵀ C q; its top-k eigenvalues converge at rate λ(b+1)/λ(k) per iteration.
      const t = new Matrix(b, b);
      for (let i = 0; i < b; i++) {
        for (let j = i; j < b; j++) {
          let s = 0;
          for (let r = 0; r < d; r++) s += q[i * d + r]! * z[j * d + r]!;
          t.set(i, j, s);
          t.set(j, i, s);
        }
      }
      const ritz = sortedEig(t);
      const top = ritz.values.slice(0, k);
      if (iter >= 400 || (prev.length === k && top.every((v, i) => Math.abs(v - prev[i]!) <= 1e-9 * top[0]!))) {
        const vectors = new Matrix(d, k);
        for (let j = 0; j < k; j++) {
          for (let r = 0; r < d; r++) {
            let s = 0;
            for (let i = 0; i < b; i++) s += q[i * d + r]! * ritz.vectors.get(i, j);
            vectors.set(r, j, s);
          }
        }
        return { values: top, vectors };
      }
      prev = top;
    }
    orthonormalise(z, d, b);
    [q, z] = [z, q];
  }
}

export interface PcaFitOptions {
  readonly backend?: BackendName;
  readonly signal?: AbortSignal;
  /** Seeds the subspace-iteration start block (the result does not depend on it beyond ~1e-6). */
  readonly seed?: number;
}

/** Fits PCA with k components on row-major [n, d] training features. */
export async function fitPca(x: Float32Array, n: number, d: number, k: number, opts: PcaFitOptions = {}): Promise<Pca> {
  if (!Number.isInteger(k) || k < 1 || k > d) throw new StageInputError(`pca: components must be an integer in 1..${d} (the feature dimensions), got ${k}`);
  const mean = columnMeans(x, n, d);
  const cov = await covariance(x, n, d, mean, opts.backend, opts.signal);
  abortCheck(opts.signal);
  let total = 0;
  for (let i = 0; i < d; i++) total += cov[i * d + i]!;
  const { values, vectors } = topEigenpairs(cov, d, k, opts.seed ?? 0);
  const components = new Float32Array(k * d);
  for (let j = 0; j < k; j++) {
    let big = 0;
    for (let r = 0; r < d; r++) if (Math.abs(vectors.get(r, j)) > Math.abs(big)) big = vectors.get(r, j);
    const sign = big < 0 ? -1 : 1;
    for (let r = 0; r < d; r++) components[j * d + r] = sign * vectors.get(r, j);
  }
  const explainedVariance = values.map((v) => Math.max(0, v));
  return {
    dims: d,
    k,
    mean,
    components,
    explainedVariance,
    explainedVarianceRatio: explainedVariance.map((v) => (total > 0 ? v / total : 0)),
  };
}

/** Projects row-major [n, d] onto the components: returns row-major [n, k]. */
export async function pcaTransform(pca: Pca, x: Float32Array, n: number, backend?: BackendName): Promise<Float32Array> {
  const { dims: d, k } = pca;
  if (x.length !== n * d) throw new StageInputError(`pca: expected ${n}×${d} features, got ${x.length} values`);
  const { tf } = await initTf(backend);
  const out = new Float32Array(n * k);
  const w = tf.tensor2d(pca.components, [k, d]);
  // x·Wᵀ − mean·Wᵀ: avoids materialising the centred chunk.
  const shift = tf.tidy(() => tf.matMul(tf.tensor2d(pca.mean, [1, d]), w, false, true));
  try {
    for (let start = 0; start < n; start += CHUNK) {
      const rows = Math.min(CHUNK, n - start);
      const y = tf.tidy(() => tf.sub(tf.matMul(tf.tensor2d(x.subarray(start * d, (start + rows) * d), [rows, d]), w, false, true), shift));
      out.set(await y.data(), start * k);
      y.dispose();
    }
  } finally {
    w.dispose();
    shift.dispose();
  }
  return out;
}

/** Maps row-major [n, k] scores back to [n, d] (for reconstruction checks). */
export function pcaInverse(pca: Pca, z: Float32Array, n: number): Float32Array {
  const { dims: d, k } = pca;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = out.subarray(i * d, (i + 1) * d);
    row.set(pca.mean);
    for (let j = 0; j < k; j++) {
      const s = z[i * k + j]!;
      const comp = pca.components.subarray(j * d, (j + 1) * d);
      for (let r = 0; r < d; r++) row[r]! += s * comp[r]!;
    }
  }
  return out;
}

export async function savePca(dir: string, pca: Pca, prefix = 'pca'): Promise<void> {
  await writeNpy(join(dir, `${prefix}_mean.npy`), pca.mean, [pca.dims]);
  await writeNpy(join(dir, `${prefix}_components.npy`), pca.components, [pca.k, pca.dims]);
  const meta = {
    components: pca.k,
    dims: pca.dims,
    explained_variance: pca.explainedVariance,
    explained_variance_ratio: pca.explainedVarianceRatio,
  };
  await writeFile(join(dir, `${prefix}.json`), `${JSON.stringify(meta, null, 1)}\n`);
}

export async function loadPca(dir: string, prefix = 'pca'): Promise<Pca> {
  const meta = JSON.parse(await readFile(join(dir, `${prefix}.json`), 'utf8')) as {
    components: number;
    dims: number;
    explained_variance: number[];
    explained_variance_ratio: number[];
  };
  const mean = await readNpy(join(dir, `${prefix}_mean.npy`));
  const comps = await readNpy(join(dir, `${prefix}_components.npy`));
  if (mean.dtype !== 'float32' || comps.dtype !== 'float32' || comps.shape[0] !== meta.components || comps.shape[1] !== meta.dims) {
    throw new ModelFilesError(dir, `PCA files do not match ${prefix}.json`);
  }
  return {
    dims: meta.dims,
    k: meta.components,
    mean: mean.data as Float32Array,
    components: comps.data as Float32Array,
    explainedVariance: meta.explained_variance,
    explainedVarianceRatio: meta.explained_variance_ratio,
  };
}

/** Total variance share kept, for model `info`. */
export function keptVariance(pca: Pca): number {
  return pca.explainedVarianceRatio.reduce((a, b) => a + b, 0);
}

/** Schema-independent glue for a flat model's `pca` param (0/absent = off). */
export interface PcaParamContext {
  readonly signal?: AbortSignal;
  readonly backend?: string;
  progress?(done: number, total: number, label?: string): void;
  log?(message: string): void;
}

/** Fits PCA when `components` > 0 (on training rows only) and returns it with the projected training rows. */
export async function fitPcaParam(
  x: Float32Array,
  n: number,
  d: number,
  components: number,
  ctx: PcaParamContext,
): Promise<{ pca?: Pca; x: Float32Array; dims: number }> {
  if (!components) return { x, dims: d };
  if (components > d) throw new StageInputError(`pca: ${components} components requested but the features have ${d} dims; ask for at most ${d}`);
  const backend = ctx.backend as BackendName | undefined;
  ctx.progress?.(0, 1, 'pca');
  const t0 = performance.now();
  const pca = await fitPca(x, n, d, components, { ...(backend ? { backend } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) });
  const z = await pcaTransform(pca, x, n, backend);
  ctx.progress?.(1, 1, 'pca');
  ctx.log?.(`pca: ${d} → ${components} dims keep ${(100 * keptVariance(pca)).toFixed(1)}% of the variance (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return { pca, x: z, dims: components };
}
