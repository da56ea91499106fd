/**
 * Save format of `random-forest` (all trees in three files, so numpy can read them too):
 *   forest.json  {format: "pipe-random-forest/1", num_classes, n_features, bins, n_trees,
 *                 tree_nodes: number[], tree_leaves: number[], tree_depths: number[]}
 *   nodes.npy    int32 [total_nodes, 4]: feature, threshold bin, left, right per node, trees one after
 *                another; child ids are local to their tree; leaves have feature −1 and left = the leaf's
 *                index within its tree. A row goes left when binOf(x[feature]) ≤ threshold.
 *   leaves.npy   float32 [total_leaves, num_classes]: class distribution of each leaf, trees in order.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../../artifacts/npy.js';
import type { FeatureRange, TreeArrays } from './tree.js';
import { ModelFilesError } from '../../errors.js';

export interface Forest {
  readonly trees: readonly TreeArrays[];
  readonly numClasses: number;
  readonly nFeatures: number;
  readonly bins: number;
  /** Absent: features were in [0,1]. */
  readonly range?: FeatureRange;
}

const FORMAT = 'pipe-random-forest/1';

export async function saveForest(dir: string, forest: Forest): Promise<void> {
  const { trees, numClasses: c } = forest;
  const totalNodes = trees.reduce((s, t) => s + t.feature.length, 0);
  const totalLeaves = trees.reduce((s, t) => s + t.leafValues.length / c, 0);
  const nodes = new Int32Array(totalNodes * 4);
  const leaves = new Float32Array(totalLeaves * c);
  let no = 0;
  let lo = 0;
  for (const t of trees) {
    for (let i = 0; i < t.feature.length; i++, no++) {
      nodes[no * 4] = t.feature[i]!;
      nodes[no * 4 + 1] = t.threshold[i]!;
      nodes[no * 4 + 2] = t.left[i]!;
      nodes[no * 4 + 3] = t.right[i]!;
    }
    leaves.set(t.leafValues, lo);
    lo += t.leafValues.length;
  }
  const meta = {
    format: FORMAT,
    num_classes: c,
    n_features: forest.nFeatures,
    bins: forest.bins,
    n_trees: trees.length,
    tree_nodes: trees.map((t) => t.feature.length),
    tree_leaves: trees.map((t) => t.leafValues.length / c),
    tree_depths: trees.map((t) => t.depth),
    ...(forest.range ? { feature_min: Array.from(forest.range.min), feature_scale: Array.from(forest.range.scale) } : {}),
  };
  await writeFile(join(dir, 'forest.json'), `${JSON.stringify(meta)}\n`);
  await writeNpy(join(dir, 'nodes.npy'), nodes, [totalNodes, 4]);
  await writeNpy(join(dir, 'leaves.npy'), leaves, [totalLeaves, c]);
}

export async function loadForest(dir: string): Promise<Forest> {
  const meta = JSON.parse(await readFile(join(dir, 'forest.json'), 'utf8')) as {
    format: string;
    num_classes: number;
    n_features: number;
    bins: number;
    tree_nodes: number[];
    tree_leaves: number[];
    tree_depths: number[];
    feature_min?: number[];
    feature_scale?: number[];
  };
  if (meta.format !== FORMAT) throw new ModelFilesError(dir, `forest.json: unknown format ${meta.format}`);
  const nodes = await readNpy(join(dir, 'nodes.npy'));
  const leaves = await readNpy(join(dir, 'leaves.npy'));
  const c = meta.num_classes;
  const totalNodes = meta.tree_nodes.reduce((a, b) => a + b, 0);
  const totalLeaves = meta.tree_leaves.reduce((a, b) => a + b, 0);
  if (nodes.dtype !== 'int32' || nodes.shape[0] !== totalNodes || leaves.dtype !== 'float32' || leaves.shape[0] !== totalLeaves) {
    throw new ModelFilesError(dir, 'nodes.npy/leaves.npy do not match forest.json');
  }
  const nd = nodes.data as Int32Array;
  const lv = leaves.data as Float32Array;
  const trees: TreeArrays[] = [];
  let no = 0;
  let lo = 0;
  meta.tree_nodes.forEach((count, t) => {
    const feature = new Int32Array(count);
    const threshold = new Int32Array(count);
    const left = new Int32Array(count);
    const right = new Int32Array(count);
    for (let i = 0; i < count; i++, no++) {
      feature[i] = nd[no * 4]!;
      threshold[i] = nd[no * 4 + 1]!;
      left[i] = nd[no * 4 + 2]!;
      right[i] = nd[no * 4 + 3]!;
    }
    const nLeaves = meta.tree_leaves[t]!;
    trees.push({ feature, threshold, left, right, leafValues: lv.slice(lo * c, (lo + nLeaves) * c), depth: meta.tree_depths[t]! });
    lo += nLeaves;
  });
  const range = meta.feature_min && meta.feature_scale ? { min: Float32Array.from(meta.feature_min), scale: Float32Array.from(meta.feature_scale) } : undefined;
  return { trees, numClasses: c, nFeatures: meta.n_features, bins: meta.bins, ...(range ? { range } : {}) };
}
