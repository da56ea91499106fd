/**
 * `svm`: C-SVC (RBF by default) from libsvm-js's wasm build, on PCA features fitted on the training
 * rows only (default 50 components: libsvm's cost grows ~rows² and linearly with dims; measured
 * 60k rows in ~100 s, test accuracy 0.892 as scikit-learn on the same features).
 *
 * Training: the one-vs-one class pairs (45 for 10 classes) are independent, so they are trained as
 * separate binary problems, split over worker threads (./svm/worker.js when compiled; in-thread
 * under vitest's .ts sources). This is exactly libsvm's own multi-class scheme, at ~2× on 2 cores.
 *
 * Prediction: decision values are computed here, not by libsvm (which exposes labels only, one row
 * at a time: ~57 s for 10k rows): kernel rows K(x, SV) for a batch come from one tfjs matMul, then
 * decision = K·coef − rho for all pairs at once with a second matMul [batch, nSV]·[nSV, pairs].
 * Scores: one-vs-one votes plus scikit-learn's bounded confidence tie-break (Σ decision/(3(|Σ|+1)),
 * within ±1/3), shifted to be ≥ 0 and normalised to sum to 1; argmax = scikit-learn's ovr decision.
 * libsvm's probability mode (-b 1) is not offered: it runs an internal 5-fold CV, ~5× the time.
 *
 * Files: `svm.json` {format, kernel, gamma, degree, coef0, cost, num_classes, dims, pairs: [[l0, l1]…]
 * (decision > 0 votes l0), rho: number[], n_sv, pca}, `support_vectors.npy` float32 [nSV, dims]
 * (union of all pairs' SVs, in PCA space), `dual_coef.npy` float32 [nSV, pairs] (0 where a vector is
 * not a support vector of that pair), `pca*.{json,npy}` when pca > 0. rho comes from libsvm's model
 * text, which prints it with 6 significant digits.
 */
import { flatDims } from './input-shape.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../artifacts/npy.js';
import { loadSchema } from '../schema.js';
import { initTf, type BackendName } from '../tf/backend.js';
import type { JsonValue } from '../types.js';
import { fitPcaParam, keptVariance, loadPca, pcaTransform, savePca, type Pca } from './pca.js';
import { trainPair, type LibsvmOptions, type PairModel } from './svm/libsvm.js';
import type { SvmWorkerData } from './svm/worker.js';
import { bool, num, str, withDefaults } from './tf/options.js';
import type { Dataset, FitContext, ModelDefinition, TrainedModel } from './types.js';
import { runPool, shared, threadCount, workerScript } from './worker-pool.js';
import { StageInputError } from '../types.js';
import { ModelFilesError } from '../errors.js';

const schema = loadSchema('models/svm');
const KERNELS = ['rbf', 'linear', 'poly', 'sigmoid'] as const;
type Kernel = (typeof KERNELS)[number];
const KERNEL_TYPE: Record<Kernel, number> = { linear: 0, poly: 1, rbf: 2, sigmoid: 3 };
/** Kernel-matrix elements per prediction batch (64 MB of float32). */
const BATCH_ELEMS = 16 * 1024 * 1024;

interface SvmState {
  readonly kernel: Kernel;
  readonly gamma: number;
  readonly degree: number;
  readonly coef0: number;
  readonly cost: number;
  readonly numClasses: number;
  readonly dims: number;
  readonly pairs: readonly (readonly [number, number])[];
  readonly rho: readonly number[];
  /** [nSV, dims] */
  readonly sv: Float32Array;
  /** [nSV, pairs] */
  readonly coef: Float32Array;
  readonly nSv: number;
  readonly pca?: Pca;
  readonly backend?: BackendName;
}


/** gamma "scale" = 1/(dims·Var(x)) over all training values (scikit-learn's default), "auto" = 1/dims. */
function resolveGamma(v: JsonValue | undefined, x: Float32Array, dims: number): number {
  if (typeof v === 'number') return v;
  if (v === 'auto') return 1 / dims;
  // The schema allows only a number, "auto" or "scale" (its default): anything else is a bug.
  if (v !== 'scale') throw new Error(`gamma is ${JSON.stringify(v)}, which the schema should have refused`);
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i]!;
    s2 += x[i]! * x[i]!;
  }
  const variance = s2 / x.length - (s / x.length) ** 2;
  return variance > 0 ? 1 / (dims * variance) : 1 / dims;
}

async function trainPairs(x: Float32Array, y: Uint8Array, n: number, dims: number, pairs: [number, number][], options: LibsvmOptions, ctx: FitContext): Promise<{ models: PairModel[]; threads: number }> {
  const script = workerScript(new URL('./svm/worker.js', import.meta.url));
  const threads = threadCount(ctx.threads, pairs.length);
  let done = 0;
  ctx.progress(0, pairs.length, 'class pairs');
  if (script && threads > 1) {
    const workerData: SvmWorkerData = { x: shared(x), y: shared(y), n, dims, options };
    const models = await runPool<[number, number], PairModel>({
      script,
      workerData,
      jobs: pairs,
      threads,
      signal: ctx.signal,
      onResult: () => ctx.progress(++done, pairs.length, 'class pairs'),
    });
    return { models, threads };
  }
  if (!script && threads > 1) ctx.log('worker script not compiled (running from .ts sources): training class pairs in this thread');
  const models: PairModel[] = [];
  for (const [a, b] of pairs) {
    if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted');
    models.push(await trainPair(x, y, n, dims, a, b, options));
    ctx.progress(++done, pairs.length, 'class pairs');
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { models, threads: 1 };
}

/** Merges the pairs' support vectors (shared rows stored once) into [nSV, dims] and [nSV, pairs]. */
function combine(models: readonly PairModel[], x: Float32Array, dims: number): { sv: Float32Array; coef: Float32Array; nSv: number } {
  const unique = [...new Set(models.flatMap((m) => Array.from(m.svIndex)))].sort((a, b) => a - b);
  const slot = new Map(unique.map((row, i) => [row, i]));
  const p = models.length;
  const sv = new Float32Array(unique.length * dims);
  unique.forEach((row, i) => sv.set(x.subarray(row * dims, (row + 1) * dims), i * dims));
  const coef = new Float32Array(unique.length * p);
  models.forEach((m, j) => m.svIndex.forEach((row, i) => (coef[slot.get(row)! * p + j] = m.coef[i]!)));
  return { sv, coef, nSv: unique.length };
}

async function decisionScores(s: SvmState, q: Float32Array, m: number): Promise<Float32Array> {
  const { tf } = await initTf(s.backend);
  const { dims, nSv, numClasses: c } = s;
  const p = s.pairs.length;
  const out = new Float32Array(m * c);
  const sv = tf.tensor2d(s.sv, [nSv, dims]);
  const coef = tf.tensor2d(s.coef, [nSv, p]);
  const rho = tf.tensor2d(Float32Array.from(s.rho), [1, p]);
  const svNorm = tf.tidy(() => tf.reshape(tf.sum(tf.square(sv), 1), [1, nSv]));
  const batch = Math.max(1, Math.min(4096, Math.floor(BATCH_ELEMS / Math.max(1, nSv))));
  const votes = new Float64Array(c);
  const conf = new Float64Array(c);
  try {
    for (let start = 0; start < m; start += batch) {
      const rows = Math.min(batch, m - start);
      const dec = tf.tidy(() => {
        const xb = tf.tensor2d(q.subarray(start * dims, (start + rows) * dims), [rows, dims]);
        const dot = tf.matMul(xb, sv, false, true);
        let k: typeof dot;
        if (s.kernel === 'rbf') {
          const xn = tf.sum(tf.square(xb), 1, true);
          k = tf.exp(tf.mul(tf.relu(tf.sub(tf.add(xn, svNorm), tf.mul(dot, 2))), -s.gamma));
        } else if (s.kernel === 'linear') k = dot;
        else if (s.kernel === 'poly') k = tf.pow(tf.add(tf.mul(dot, s.gamma), s.coef0), s.degree);
        else k = tf.tanh(tf.add(tf.mul(dot, s.gamma), s.coef0));
        return tf.sub(tf.matMul(k, coef), rho);
      });
      const d = await dec.data();
      dec.dispose();
      for (let r = 0; r < rows; r++) {
        votes.fill(0);
        conf.fill(0);
        for (let j = 0; j < p; j++) {
          const v = d[r * p + j]!;
          const [l0, l1] = s.pairs[j]!;
          votes[v > 0 ? l0 : l1]!++;
          conf[l0]! += v;
          conf[l1]! -= v;
        }
        let total = 0;
        const o = (start + r) * c;
        for (let k = 0; k < c; k++) {
          const score = votes[k]! + conf[k]! / (3 * (Math.abs(conf[k]!) + 1)) + 1 / 3;
          out[o + k] = score;
          total += score;
        }
        for (let k = 0; k < c; k++) out[o + k] = out[o + k]! / total;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    tf.dispose([sv, coef, rho, svNorm]);
  }
  return out;
}

function makeTrained(s: SvmState, backend: string, extra: Record<string, JsonValue> = {}): TrainedModel {
  return {
    backend,
    info: {
      kernel: s.kernel,
      gamma: Number(s.gamma.toPrecision(6)),
      n_support_vectors: s.nSv,
      class_pairs: s.pairs.length,
      pca_components: s.pca?.k ?? 0,
      ...(s.pca ? { pca_variance_kept: Number(keptVariance(s.pca).toFixed(4)) } : {}),
      ...extra,
    },
    async predictProba(x, shape) {
      const { n: m, d } = flatDims('svm', shape, x.length);
      const inDims = s.pca ? s.pca.dims : s.dims;
      if (d !== inDims) throw new StageInputError(`svm was trained on ${inDims} features, got ${d}`);
      const q = s.pca ? await pcaTransform(s.pca, x, m, s.backend) : x;
      return decisionScores(s, q, m);
    },
    async save(dir) {
      const meta = {
        format: 'pipe-svm/1',
        kernel: s.kernel,
        gamma: s.gamma,
        degree: s.degree,
        coef0: s.coef0,
        cost: s.cost,
        num_classes: s.numClasses,
        dims: s.dims,
        pairs: s.pairs,
        rho: s.rho,
        n_sv: s.nSv,
        pca: !!s.pca,
      };
      await writeFile(join(dir, 'svm.json'), `${JSON.stringify(meta)}\n`);
      await writeNpy(join(dir, 'support_vectors.npy'), s.sv, [s.nSv, s.dims]);
      await writeNpy(join(dir, 'dual_coef.npy'), s.coef, [s.nSv, s.pairs.length]);
      if (s.pca) await savePca(dir, s.pca);
    },
  };
}

const PARAMS = ['C', 'kernel', 'gamma', 'degree', 'coef0', 'tolerance', 'cache_mb', 'shrinking', 'pca'] as const;

export const svm: ModelDefinition = {
  name: 'svm',
  version: 1,
  description: 'Support vector machine (libsvm C-SVC, one-vs-one over worker threads, optional PCA)',
  input: 'flat',
  schema,
  params: PARAMS,
  // One-vs-one class pairs train in parallel: 45 for 10 classes, more than any --jobs here.
  threads: () => ({ max: Number.MAX_SAFE_INTEGER }),
  async fit(train: Dataset, _validation, params, ctx) {
    const p = withDefaults(schema, params, PARAMS);
    const { n, d } = flatDims('svm', train.shape, train.x.length);
    const backend = ctx.backend as BackendName | undefined;
    const { backend: used } = await initTf(backend);
    const reduced = await fitPcaParam(train.x, n, d, Math.round(num(p, 'pca')), ctx);
    const dims = reduced.dims;
    const kernel = str(p, 'kernel', KERNELS);
    const options: LibsvmOptions = {
      kernelType: KERNEL_TYPE[kernel],
      cost: num(p, 'C'),
      gamma: resolveGamma(p['gamma'], reduced.x, dims),
      degree: Math.round(num(p, 'degree')),
      coef0: num(p, 'coef0'),
      tolerance: num(p, 'tolerance'),
      cacheMb: Math.round(num(p, 'cache_mb')),
      shrinking: bool(p, 'shrinking'),
    };
    const present = [...new Set(train.y)].sort((a, b) => a - b);
    if (present.length < 2) throw new StageInputError('svm needs at least two classes in the training labels; train on more rows');
    const pairs: [number, number][] = [];
    for (let i = 0; i < present.length; i++) for (let j = i + 1; j < present.length; j++) pairs.push([present[i]!, present[j]!]);
    const t0 = performance.now();
    const { models, threads } = await trainPairs(reduced.x, train.y, n, dims, pairs, options, ctx);
    const merged = combine(models, reduced.x, dims);
    ctx.log(`svm: ${pairs.length} class pairs in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${threads} thread(s), ${merged.nSv} support vectors`);
    const state: SvmState = {
      kernel,
      gamma: options.gamma,
      degree: options.degree,
      coef0: options.coef0,
      cost: options.cost,
      numClasses: train.numClasses,
      dims,
      pairs: models.map((m) => m.labels),
      rho: models.map((m) => m.rho),
      ...merged,
      ...(reduced.pca ? { pca: reduced.pca } : {}),
      ...(backend ? { backend } : {}),
    };
    return makeTrained(state, used, { threads });
  },
  async load(dir) {
    const meta = JSON.parse(await readFile(join(dir, 'svm.json'), 'utf8')) as {
      kernel: Kernel;
      gamma: number;
      degree: number;
      coef0: number;
      cost: number;
      num_classes: number;
      dims: number;
      pairs: [number, number][];
      rho: number[];
      n_sv: number;
      pca: boolean;
    };
    const sv = await readNpy(join(dir, 'support_vectors.npy'));
    const coef = await readNpy(join(dir, 'dual_coef.npy'));
    if (sv.dtype !== 'float32' || coef.dtype !== 'float32' || sv.shape[0] !== meta.n_sv || coef.shape[1] !== meta.pairs.length) {
      throw new ModelFilesError(dir, 'svm files do not match svm.json');
    }
    const pca = meta.pca ? await loadPca(dir) : undefined;
    const { backend } = await initTf();
    const state: SvmState = {
      kernel: meta.kernel,
      gamma: meta.gamma,
      degree: meta.degree,
      coef0: meta.coef0,
      cost: meta.cost,
      numClasses: meta.num_classes,
      dims: meta.dims,
      pairs: meta.pairs,
      rho: meta.rho,
      sv: sv.data as Float32Array,
      coef: coef.data as Float32Array,
      nSv: meta.n_sv,
      ...(pca ? { pca } : {}),
    };
    return makeTrained(state, backend);
  },
};
