/**
 * `random-forest`: bagged gini trees grown by the histogram builder in ./forest/tree.ts, trained in
 * parallel over worker_threads (one per core by default), predictProba = mean of leaf class
 * distributions (as scikit-learn).
 *
 * Replaces `ml-random-forest`, which did not finish 10 trees on 5k rows in 5 minutes (it sorts
 * float rows per candidate split through ml-matrix objects). Here features are re-quantised to
 * 256 bins (= the original pixels, exact; features outside [0,1] are binned linearly between their
 * training min and max), a fully grown tree on 60k rows takes ~1 s in one thread.
 *
 * Workers: ./forest/worker.js when compiled (dist/); under vitest's .ts sources it does not exist and
 * trees are built in this thread instead. Each tree's seed derives from (seed, tree index), so the
 * forest is the same whichever thread builds which tree, and whatever the thread count is.
 */
import { flatDims } from './input-shape.js';
import { loadSchema } from '../schema.js';
import { loadForest, saveForest, type Forest } from './forest/format.js';
import { accumulateTree, binFeatures, binRows, buildTree, fitFeatureRange, treeSeed, type BinnedData, type TreeArrays, type TreeOptions } from './forest/tree.js';
import type { ForestWorkerData } from './forest/worker.js';
import { num, bool, withDefaults } from './tf/options.js';
import type { Dataset, FitContext, ModelDefinition, TrainedModel } from './types.js';
import { runPool, shared, threadCount, workerScript } from './worker-pool.js';
import type { JsonValue } from '../types.js';
import { StageInputError } from '../types.js';

const schema = loadSchema('models/random-forest');


function maxFeatures(v: JsonValue | undefined, d: number): number {
  if (typeof v === 'number') return Math.max(1, Math.min(d, Math.round(v)));
  if (v === 'log2') return Math.max(1, Math.floor(Math.log2(d)));
  if (v === 'all') return d;
  if (v === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(d))); // 28 of 784 pixels
  // The schema allows only the cases above (its default is "sqrt"): anything else is a bug.
  throw new Error(`max_features is ${JSON.stringify(v)}, which the schema should have refused`);
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

async function growTrees(data: BinnedData, opts: TreeOptions, seed: number, nTrees: number, ctx: FitContext): Promise<{ trees: TreeArrays[]; threads: number }> {
  const script = workerScript(new URL('./forest/worker.js', import.meta.url));
  const threads = threadCount(ctx.threads, nTrees);
  let done = 0;
  ctx.progress(0, nTrees, 'trees');
  if (script && threads > 1) {
    const workerData: ForestWorkerData = { data, opts, seed };
    const trees = await runPool<number, TreeArrays>({
      script,
      workerData,
      jobs: Array.from({ length: nTrees }, (_, i) => i),
      threads,
      signal: ctx.signal,
      onResult: () => ctx.progress(++done, nTrees, 'trees'),
    });
    return { trees, threads };
  }
  if (!script && threads > 1) ctx.log('worker script not compiled (running from .ts sources): training trees in this thread');
  const trees: TreeArrays[] = [];
  for (let t = 0; t < nTrees; t++) {
    throwIfAborted(ctx.signal);
    trees.push(buildTree(data, opts, treeSeed(seed, t)));
    ctx.progress(++done, nTrees, 'trees');
    await new Promise((resolve) => setImmediate(resolve)); // lets abort and progress messages through
  }
  return { trees, threads: 1 };
}

function makeTrained(forest: Forest, extra: Record<string, JsonValue> = {}): TrainedModel {
  const { trees, numClasses: c, nFeatures: d, bins, range } = forest;
  const nodes = trees.reduce((s, t) => s + t.feature.length, 0);
  return {
    backend: 'js',
    info: {
      n_trees: trees.length,
      mean_nodes: Math.round(nodes / Math.max(1, trees.length)),
      mean_depth: Number((trees.reduce((s, t) => s + t.depth, 0) / Math.max(1, trees.length)).toFixed(1)),
      ...extra,
    },
    async predictProba(x, shape) {
      const { n: m, d: dx } = flatDims('random-forest', shape, x.length);
      if (dx !== d) throw new StageInputError(`random-forest was trained on ${d} features, got ${dx}`);
      // Bin the rows once (row-major here: traversal reads one row's features).
      const xb = binRows(x, m, d, bins, range);
      const out = new Float32Array(m * c);
      for (const t of trees) accumulateTree(t, xb, m, d, c, out);
      const inv = 1 / trees.length;
      for (let i = 0; i < out.length; i++) out[i] = out[i]! * inv;
      return out;
    },
    save: (dir) => saveForest(dir, forest),
  };
}

const PARAMS = ['trees', 'max_features', 'max_depth', 'min_samples_leaf', 'min_samples_split', 'bootstrap', 'bins', 'seed'] as const;

export const randomForest: ModelDefinition = {
  name: 'random-forest',
  version: 2,
  description: 'Random forest of gini trees on binned features (parallel over worker threads)',
  input: 'flat',
  schema,
  params: PARAMS,
  // One tree per thread at a time: as many threads as trees.
  threads: (params) => ({ max: num(withDefaults(schema, params, ['trees']), 'trees') }),
  async fit(train: Dataset, _validation, params, ctx) {
    const p = withDefaults(schema, params, PARAMS);
    const { n, d } = flatDims('random-forest', train.shape, train.x.length);
    const bins = Math.round(num(p, 'bins'));
    const nTrees = Math.round(num(p, 'trees'));
    if (nTrees < 1) throw new StageInputError('random-forest: trees must be ≥ 1');
    const opts: TreeOptions = {
      maxFeatures: maxFeatures(p['max_features'], d),
      maxDepth: Math.round(num(p, 'max_depth')),
      minSamplesLeaf: Math.round(num(p, 'min_samples_leaf')),
      minSamplesSplit: Math.round(num(p, 'min_samples_split')),
      bootstrap: bool(p, 'bootstrap'),
    };
    const seed = Math.round(num(p, 'seed'));
    // Pixels in [0,1] are binned exactly; other features (e.g. PCA scores) by their training min/max.
    const range = fitFeatureRange(train.x, n, d);
    // Shared memory: workers read the 47 MB of bins in place instead of each getting a copy.
    const data: BinnedData = {
      xb: binFeatures(train.x, n, d, bins, new Uint8Array(new SharedArrayBuffer(n * d)), range),
      y: shared(Uint8Array.from(train.y)),
      n,
      d,
      numClasses: train.numClasses,
      bins,
    };
    const t0 = performance.now();
    const { trees, threads } = await growTrees(data, opts, seed, nTrees, ctx);
    ctx.log(`random-forest: ${nTrees} trees in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${threads} thread(s)`);
    return makeTrained({ trees, numClasses: train.numClasses, nFeatures: d, bins, ...(range ? { range } : {}) }, { threads, max_features: opts.maxFeatures });
  },
  async load(dir) {
    return makeTrained(await loadForest(dir));
  },
};
