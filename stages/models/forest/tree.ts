/**
 * Histogram-based CART tree builder (gini) over pre-binned features, for `random-forest`.
 *
 * Features are quantised once to `bins` levels (256 recovers the original uint8 pixels exactly, so
 * no split is lost), stored feature-major so one feature's values for a node's rows are read in
 * increasing row order. Each split tries `maxFeatures` random non-constant features (scikit-learn's
 * rule: constant features do not count, so deep nodes still find a split), histograms class weights
 * per bin, and scans the bins once. Bootstrap duplicates become integer row weights, so each unique
 * row is visited once per node. Everything is typed arrays: no per-row objects.
 */
import { Rng } from '../tf/prng.js';

export interface BinnedData {
  /** Feature-major bins: value of feature f for row i at [f * n + i]. */
  readonly xb: Uint8Array;
  readonly y: Uint8Array;
  readonly n: number;
  readonly d: number;
  readonly numClasses: number;
  readonly bins: number;
}

export interface TreeOptions {
  /** Non-constant features tried per split. */
  readonly maxFeatures: number;
  /** 0 = unlimited. */
  readonly maxDepth: number;
  readonly minSamplesLeaf: number;
  readonly minSamplesSplit: number;
  readonly bootstrap: boolean;
}

/** One tree: node i is a leaf when feature[i] < 0, and then left[i] is its leaf index. */
export interface TreeArrays {
  readonly feature: Int32Array;
  /** Rows with bin ≤ threshold go left. */
  readonly threshold: Int32Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Row-major [leaves, numClasses] class distribution of the training weight in each leaf. */
  readonly leafValues: Float32Array;
  readonly depth: number;
}

/** Quantises x in [0,1] to a bin (clamped); with 256 bins, x = p/255 maps back to pixel p. */
export function binOf(x: number, bins: number): number {
  const b = Math.floor(x * bins);
  return b < 0 ? 0 : b >= bins ? bins - 1 : b;
}

/**
 * Per-feature linear bin edges for features outside [0,1] (e.g. after a `pca` stage):
 * bin = binOf((x − min[f]) · scale[f]). Absent = features already in [0,1] (pixels), binned exactly.
 */
export interface FeatureRange {
  readonly min: Float32Array;
  /** 1 / (max − min), or 0 for a constant feature. */
  readonly scale: Float32Array;
}

/** The range to bin by: undefined when every value lies in [0,1], else each feature's min and max. */
export function fitFeatureRange(x: Float32Array, n: number, d: number): FeatureRange | undefined {
  const lo = new Float32Array(d).fill(Infinity);
  const hi = new Float32Array(d).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let f = 0; f < d; f++) {
      const v = x[off + f]!;
      if (v < lo[f]!) lo[f] = v;
      if (v > hi[f]!) hi[f] = v;
    }
  }
  if (lo.every((v) => v >= 0) && hi.every((v) => v <= 1)) return undefined;
  return { min: lo, scale: lo.map((v, f) => (hi[f]! > v ? 1 / (hi[f]! - v) : 0)) };
}

/** Bins row-major [n, d] features into `out` at [f * fStride + i * iStride] (feature- or row-major). */
function binInto(x: Float32Array, n: number, d: number, bins: number, range: FeatureRange | undefined, out: Uint8Array, fStride: number, iStride: number): Uint8Array {
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let f = 0; f < d; f++) {
      const v = range ? (x[off + f]! - range.min[f]!) * range.scale[f]! : x[off + f]!;
      out[f * fStride + i * iStride] = binOf(v, bins);
    }
  }
  return out;
}

/** Row-major float features [n, d] → feature-major bins (training layout). */
export function binFeatures(x: Float32Array, n: number, d: number, bins: number, out: Uint8Array = new Uint8Array(n * d), range?: FeatureRange): Uint8Array {
  return binInto(x, n, d, bins, range, out, n, 1);
}

/** Row-major float features [n, d] → row-major bins (prediction layout: one row's features together). */
export function binRows(x: Float32Array, n: number, d: number, bins: number, range?: FeatureRange): Uint8Array {
  return binInto(x, n, d, bins, range, new Uint8Array(n * d), 1, d);
}

/** Independent, well-mixed seed per tree, so a tree does not depend on which worker builds it. */
export function treeSeed(seed: number, tree: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x85ebca6b, 0xc2b2ae35) ^ Math.imul(tree + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export function buildTree(data: BinnedData, opts: TreeOptions, seed: number): TreeArrays {
  const { xb, y, n, d, numClasses: C, bins: B } = data;
  const rng = new Rng(seed);
  const w = new Int32Array(n);
  if (opts.bootstrap) for (let i = 0; i < n; i++) w[rng.int(n)]!++;
  else w.fill(1);
  let m = 0;
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) if (w[i]! > 0) rows[m++] = i;
  const tmp = new Int32Array(m);

  const cap = Math.max(1, 2 * m);
  const feature = new Int32Array(cap);
  const threshold = new Int32Array(cap);
  const left = new Int32Array(cap);
  const right = new Int32Array(cap);
  const leafValues = new Float32Array(Math.max(1, m) * C);
  let nodes = 1;
  let leaves = 0;
  let maxDepthSeen = 0;

  const hist = new Int32Array(B * C);
  const cnt = new Int32Array(B);
  const occ = new Int32Array(B);
  const counts = new Float64Array(C);
  const lc = new Float64Array(C);
  const rc = new Float64Array(C);
  const feats = Int32Array.from({ length: d }, (_, i) => i);
  const msl = Math.max(1, opts.minSamplesLeaf);
  const mss = Math.max(2, opts.minSamplesSplit, 2 * msl);

  // Depth-first stack of [lo, hi, depth, node id]; ids are allocated when a node is pushed.
  const stack: number[] = [0, m, 0, 0];
  while (stack.length > 0) {
    const id = stack.pop()!;
    const depth = stack.pop()!;
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    if (depth > maxDepthSeen) maxDepthSeen = depth;
    counts.fill(0);
    let total = 0;
    for (let r = lo; r < hi; r++) {
      const row = rows[r]!;
      counts[y[row]!]! += w[row]!;
      total += w[row]!;
    }
    let pure = false;
    for (let c = 0; c < C; c++) if (counts[c] === total) pure = true;
    const size = hi - lo;

    let bestF = -1;
    let bestT = 0;
    if (!pure && size >= mss && (opts.maxDepth <= 0 || depth < opts.maxDepth)) {
      let sumsqAll = 0;
      for (let c = 0; c < C; c++) sumsqAll += counts[c]! * counts[c]!;
      // Gini: minimise the weighted child impurity ⇔ maximise Σ L_c²/W_L + Σ R_c²/W_R.
      let bestScore = -Infinity;
      let visited = 0;
      for (let i = 0; i < d && visited < opts.maxFeatures; i++) {
        const j = i + rng.int(d - i);
        const f = feats[j]!;
        feats[j] = feats[i]!;
        feats[i] = f;
        const col = f * n;
        let bmin = B;
        let bmax = -1;
        let nOcc = 0;
        for (let r = lo; r < hi; r++) {
          const row = rows[r]!;
          const b = xb[col + row]!;
          hist[b * C + y[row]!]! += w[row]!;
          if (cnt[b]!++ === 0) occ[nOcc++] = b;
          if (b < bmin) bmin = b;
          if (b > bmax) bmax = b;
        }
        if (nOcc === 1) {
          cnt[bmin] = 0;
          hist.fill(0, bmin * C, bmin * C + C);
          continue; // constant in this node: does not count towards maxFeatures
        }
        visited++;
        // Small nodes occupy few of the bins: visit just those (sorted) instead of the whole range.
        const sparse = nOcc * 8 < bmax - bmin;
        if (sparse) occ.subarray(0, nOcc).sort();
        lc.fill(0);
        rc.set(counts);
        let wl = 0;
        let wr = total;
        let nl = 0;
        let sumsqL = 0;
        let sumsqR = sumsqAll;
        const steps = sparse ? nOcc - 1 : bmax - bmin;
        for (let s = 0; s < steps; s++) {
          const b = sparse ? occ[s]! : bmin + s;
          const k = cnt[b]!;
          if (k === 0) continue;
          const base = b * C;
          for (let c = 0; c < C; c++) {
            const h = hist[base + c]!;
            if (h === 0) continue;
            sumsqL += (2 * lc[c]! + h) * h;
            sumsqR += (h - 2 * rc[c]!) * h;
            lc[c]! += h;
            rc[c]! -= h;
            wl += h;
            wr -= h;
          }
          nl += k;
          if (size - nl < msl) break;
          if (nl < msl) continue;
          const score = sumsqL / wl + sumsqR / wr;
          if (score > bestScore) {
            bestScore = score;
            bestF = f;
            bestT = b;
          }
        }
        if (sparse) {
          for (let s = 0; s < nOcc; s++) {
            const b = occ[s]!;
            cnt[b] = 0;
            for (let c = b * C; c < b * C + C; c++) hist[c] = 0;
          }
        } else {
          cnt.fill(0, bmin, bmax + 1);
          hist.fill(0, bmin * C, (bmax + 1) * C);
        }
      }
    }

    if (bestF < 0) {
      feature[id] = -1;
      left[id] = leaves;
      const off = leaves * C;
      for (let c = 0; c < C; c++) leafValues[off + c] = counts[c]! / total;
      leaves++;
      continue;
    }
    // Stable partition keeps each child's rows in increasing order (sequential reads above).
    const col = bestF * n;
    let a = lo;
    let t = 0;
    for (let r = lo; r < hi; r++) {
      const row = rows[r]!;
      if (xb[col + row]! <= bestT) rows[a++] = row;
      else tmp[t++] = row;
    }
    rows.set(tmp.subarray(0, t), a);
    const l = nodes++;
    const rt = nodes++;
    feature[id] = bestF;
    threshold[id] = bestT;
    left[id] = l;
    right[id] = rt;
    stack.push(a, hi, depth + 1, rt, lo, a, depth + 1, l);
  }

  return {
    feature: feature.slice(0, nodes),
    threshold: threshold.slice(0, nodes),
    left: left.slice(0, nodes),
    right: right.slice(0, nodes),
    leafValues: leafValues.slice(0, leaves * C),
    depth: maxDepthSeen,
  };
}

/** Adds this tree's leaf distribution for each row (row-major bins [m, d]) into out [m, C]. */
export function accumulateTree(tree: TreeArrays, rowsBinned: Uint8Array, m: number, d: number, numClasses: number, out: Float32Array): void {
  const { feature, threshold, left, right, leafValues } = tree;
  for (let i = 0; i < m; i++) {
    const off = i * d;
    let node = 0;
    let f = feature[0]!;
    while (f >= 0) {
      node = rowsBinned[off + f]! <= threshold[node]! ? left[node]! : right[node]!;
      f = feature[node]!;
    }
    const leaf = left[node]! * numClasses;
    for (let c = 0; c < numClasses; c++) out[i * numClasses + c]! += leafValues[leaf + c]!;
  }
}
