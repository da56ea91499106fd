/**
 * `knn`: k-nearest neighbours by brute force on TensorFlow.js: for a batch of queries Q,
 * ‖q − t‖² = ‖q‖² + ‖t‖² − 2 q·t, so ranking needs one matMul Q·Tᵀ plus the cached ‖t‖² row.
 *
 * Replaces `ml-knn`, whose k-d tree degenerates in 784 dims: ~180 ms per query against 10k rows,
 * i.e. hours for the 10k test set against 60k rows. Brute force on raw pixels is ~5.5 s of matMul per
 * 1000 queries (tfjs-wasm), over the 60 s budget, so `pca` (default 100 components, fitted on the
 * training rows) cuts the matMul ~8× and even helps accuracy (Fashion-MNIST test, k=5 uniform:
 * raw pixels 0.855 per scikit-learn, pca 50 → 0.857, pca 100 → 0.863).
 * Top-k runs in JS over the downloaded score rows: one pass with a k-slot insertion list, on par with
 * tf.topk in time, but it breaks distance ties by the lower training index (deterministic) and gives
 * the squared distances for `weights: distance`. No worker threads: one thread does 10k queries ×
 * 60k rows in ~16 s (tfjs-wasm runs single-threaded SIMD in Node), fit (PCA) ~10 s.
 *
 * Files: `knn.json` {k, weights, num_classes, n_train, dims, pca}, `train_x.npy` float32 [n, dims]
 * (the stored, projected training rows), `train_y.npy` uint8 [n], and `pca*.{json,npy}` when pca > 0.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../artifacts/npy.js';
import { loadSchema } from '../schema.js';
import { initTf, type BackendName } from '../tf/backend.js';
import { fitPcaParam, loadPca, pcaTransform, savePca, keptVariance, type Pca } from './pca.js';
import { num, str, withDefaults } from './tf/options.js';
import { flatDims } from './input-shape.js';
import type { Dataset, ModelDefinition, TrainedModel } from './types.js';
import { StageInputError } from '../types.js';
import { ModelFilesError } from '../errors.js';

const schema = loadSchema('models/knn');
type Weights = 'uniform' | 'distance';

/** Score-matrix elements per batch (64 MB of float32): bounds memory whatever n is. */
const BATCH_ELEMS = 16 * 1024 * 1024;

interface KnnState {
  readonly k: number;
  readonly weights: Weights;
  readonly numClasses: number;
  readonly x: Float32Array;
  readonly y: Uint8Array;
  readonly n: number;
  readonly dims: number;
  readonly pca?: Pca;
  readonly backend?: BackendName;
}


/** Indices and squared distances of the k nearest training rows for every query (row-major [m, k]). */
async function neighbours(s: KnnState, q: Float32Array, m: number): Promise<{ idx: Int32Array; dist2: Float32Array }> {
  const { tf } = await initTf(s.backend);
  const { k, n, dims } = s;
  const idx = new Int32Array(m * k);
  const dist2 = new Float32Array(m * k);
  const train = tf.tensor2d(s.x, [n, dims]);
  const norms = tf.tidy(() => tf.reshape(tf.sum(tf.square(train), 1), [1, n]));
  const batch = Math.max(1, Math.min(1024, Math.floor(BATCH_ELEMS / n)));
  const bestV = new Float64Array(k);
  const bestI = new Int32Array(k);
  try {
    for (let start = 0; start < m; start += batch) {
      const rows = Math.min(batch, m - start);
      const qb = q.subarray(start * dims, (start + rows) * dims);
      // ‖t‖² − 2 q·t: the query's own norm does not change its ranking; added back below.
      const scores = tf.tidy(() => tf.sub(norms, tf.mul(tf.matMul(tf.tensor2d(qb, [rows, dims]), train, false, true), 2)));
      const data = await scores.data();
      scores.dispose();
      for (let r = 0; r < rows; r++) {
        bestV.fill(Infinity);
        bestI.fill(-1);
        let worst = Infinity;
        const off = r * n;
        for (let j = 0; j < n; j++) {
          const v = data[off + j]!;
          if (v < worst) {
            // Strict < keeps the lower training index first on ties: deterministic.
            let p = k - 1;
            while (p > 0 && bestV[p - 1]! > v) {
              bestV[p] = bestV[p - 1]!;
              bestI[p] = bestI[p - 1]!;
              p--;
            }
            bestV[p] = v;
            bestI[p] = j;
            worst = bestV[k - 1]!;
          }
        }
        let qn = 0;
        for (let c = 0; c < dims; c++) qn += qb[r * dims + c]! * qb[r * dims + c]!;
        const o = (start + r) * k;
        for (let j = 0; j < k; j++) {
          idx[o + j] = bestI[j]!;
          dist2[o + j] = Math.max(0, bestV[j]! + qn);
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    train.dispose();
    norms.dispose();
  }
  return { idx, dist2 };
}

function makeTrained(s: KnnState, backend: string): TrainedModel {
  return {
    backend,
    info: {
      k: s.k,
      weights: s.weights,
      n_train: s.n,
      dims: s.dims,
      pca_components: s.pca?.k ?? 0,
      ...(s.pca ? { pca_variance_kept: Number(keptVariance(s.pca).toFixed(4)) } : {}),
    },
    async predictProba(x, shape) {
      const { n: m, d } = flatDims('knn', shape, x.length);
      const inDims = s.pca ? s.pca.dims : s.dims;
      if (d !== inDims) throw new StageInputError(`knn was trained on ${inDims} features, got ${d}`);
      const q = s.pca ? await pcaTransform(s.pca, x, m, s.backend) : x;
      const { idx, dist2 } = await neighbours(s, q, m);
      const { k, numClasses: c } = s;
      const out = new Float32Array(m * c);
      for (let i = 0; i < m; i++) {
        const o = i * k;
        // scikit-learn's rule for distance weights: exact matches (distance 0) take all the weight.
        let exact = false;
        if (s.weights === 'distance') for (let j = 0; j < k; j++) if (dist2[o + j] === 0) exact = true;
        let total = 0;
        for (let j = 0; j < k; j++) {
          const dd = dist2[o + j]!;
          const w = s.weights === 'uniform' ? 1 : exact ? (dd === 0 ? 1 : 0) : 1 / Math.sqrt(dd);
          out[i * c + s.y[idx[o + j]!]!]! += w;
          total += w;
        }
        for (let j = 0; j < c; j++) out[i * c + j] = out[i * c + j]! / total;
      }
      return out;
    },
    async save(dir) {
      const meta = { format: 'pipe-knn/1', k: s.k, weights: s.weights, num_classes: s.numClasses, n_train: s.n, dims: s.dims, pca: !!s.pca };
      await writeFile(join(dir, 'knn.json'), `${JSON.stringify(meta, null, 1)}\n`);
      await writeNpy(join(dir, 'train_x.npy'), s.x, [s.n, s.dims]);
      await writeNpy(join(dir, 'train_y.npy'), s.y, [s.n]);
      if (s.pca) await savePca(dir, s.pca);
    },
  };
}

const PARAMS = ['k', 'pca', 'weights'] as const;

export const knn: ModelDefinition = {
  name: 'knn',
  version: 1,
  description: 'k-nearest neighbours (brute force on TensorFlow.js, optional PCA)',
  input: 'flat',
  schema,
  params: PARAMS,
  async fit(train: Dataset, _validation, params, ctx) {
    const p = withDefaults(schema, params, PARAMS);
    const { n, d } = flatDims('knn', train.shape, train.x.length);
    const k = Math.round(num(p, 'k'));
    if (k < 1 || k > n) throw new StageInputError(`knn: k = ${k} must be between 1 and the ${n} training rows; lower k or train on more rows`);
    const backend = ctx.backend as BackendName | undefined;
    const { backend: used } = await initTf(backend);
    const reduced = await fitPcaParam(train.x, n, d, Math.round(num(p, 'pca')), ctx);
    const state: KnnState = {
      k,
      weights: str(p, 'weights', ['uniform', 'distance'] as const),
      numClasses: train.numClasses,
      // Copy: the model keeps its rows even if the caller reuses the input buffer.
      x: reduced.pca ? reduced.x : Float32Array.from(reduced.x),
      y: Uint8Array.from(train.y),
      n,
      dims: reduced.dims,
      ...(reduced.pca ? { pca: reduced.pca } : {}),
      ...(backend ? { backend } : {}),
    };
    return makeTrained(state, used);
  },
  async load(dir) {
    const meta = JSON.parse(await readFile(join(dir, 'knn.json'), 'utf8')) as {
      k: number;
      weights: Weights;
      num_classes: number;
      n_train: number;
      dims: number;
      pca: boolean;
    };
    const x = await readNpy(join(dir, 'train_x.npy'));
    const y = await readNpy(join(dir, 'train_y.npy'));
    if (x.dtype !== 'float32' || y.dtype !== 'uint8' || x.shape[0] !== meta.n_train || x.shape[1] !== meta.dims) {
      throw new ModelFilesError(dir, 'knn files do not match knn.json');
    }
    const pca = meta.pca ? await loadPca(dir) : undefined;
    const { backend } = await initTf();
    const state: KnnState = {
      k: meta.k,
      weights: meta.weights,
      numClasses: meta.num_classes,
      x: x.data as Float32Array,
      y: y.data as Uint8Array,
      n: meta.n_train,
      dims: meta.dims,
      ...(pca ? { pca } : {}),
    };
    return makeTrained(state, backend);
  },
};
