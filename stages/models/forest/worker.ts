/**
 * Worker thread for `random-forest`: builds one tree per job (the job is the tree index) over the
 * shared binned training data. Compiled to dist/stages/models/forest/worker.js; see ../worker-pool.ts.
 */
import { serveJobs } from '../worker-pool.js';
import { buildTree, treeSeed, type BinnedData, type TreeArrays, type TreeOptions } from './tree.js';

export interface ForestWorkerData {
  readonly data: BinnedData;
  readonly opts: TreeOptions;
  readonly seed: number;
}

serveJobs<number, TreeArrays>((tree, raw) => {
  const { data, opts, seed } = raw as ForestWorkerData;
  const t = buildTree(data, opts, treeSeed(seed, tree));
  const transfer = [t.feature.buffer, t.threshold.buffer, t.left.buffer, t.right.buffer, t.leafValues.buffer] as ArrayBuffer[];
  return { result: t, transfer };
});
