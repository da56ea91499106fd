/**
 * Classification metrics with scikit-learn semantics (`confusion_matrix`, `classification_report`):
 * every class in 0..k-1 counts, including classes never predicted or absent from the labels, and a
 * 0/0 ratio (zero_division) is 0. Pure functions over plain arrays, so they are easy to check by hand.
 */
import { StageInputError } from '../types.js';

export interface ClassMetrics {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** True examples of the class (row sum of the confusion matrix). */
  readonly support: number;
}

export interface ClassificationReport {
  readonly accuracy: number;
  readonly per_class: ClassMetrics[];
  /** Unweighted mean over all k classes; support is the total number of examples. */
  readonly macro_avg: ClassMetrics;
  /** Mean weighted by support; support is the total number of examples. */
  readonly weighted_avg: ClassMetrics;
}

export interface ConfusedPair {
  readonly true: number;
  readonly predicted: number;
  readonly count: number;
  /** Share of the true class's examples sent to `predicted` (0 when the class has no examples). */
  readonly rate: number;
}

type Labels = ArrayLike<number>;

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

/** k×k counts, rows = true class, columns = predicted class. Labels outside 0..k-1 throw. */
export function confusionMatrix(yTrue: Labels, yPred: Labels, k: number): number[][] {
  if (yTrue.length !== yPred.length) throw new RangeError(`${yTrue.length} labels but ${yPred.length} predictions`);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    if (!(t >= 0 && t < k && p >= 0 && p < k)) throw new RangeError(`label ${t} or prediction ${p} at ${i} is outside 0..${k - 1}`);
    m[t]![p]! += 1;
  }
  return m;
}

function total(confusion: readonly (readonly number[])[]): number {
  let n = 0;
  for (const row of confusion) for (const v of row) n += v;
  return n;
}

/** Share of examples on the diagonal; 0 for an empty matrix. */
export function accuracy(confusion: readonly (readonly number[])[]): number {
  let correct = 0;
  confusion.forEach((row, i) => (correct += row[i] ?? 0));
  return ratio(correct, total(confusion));
}

/** Precision, recall, F1 and support of every class. */
export function perClass(confusion: readonly (readonly number[])[]): ClassMetrics[] {
  const k = confusion.length;
  return confusion.map((row, c) => {
    const tp = row[c] ?? 0;
    let support = 0;
    for (const v of row) support += v;
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += confusion[r]![c] ?? 0;
    const fp = predicted - tp;
    const fn = support - tp;
    // F1 as 2TP/(2TP+FP+FN), as sklearn ≥ 1.3 does: equal to 2PR/(P+R) where that is defined,
    // and 0 (not NaN) when either P or R is a 0/0.
    return { precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn), f1: ratio(2 * tp, 2 * tp + fp + fn), support };
  });
}

function average(rows: readonly ClassMetrics[], weights: readonly number[] | undefined): ClassMetrics {
  const support = rows.reduce((s, r) => s + r.support, 0);
  const mean = (key: 'precision' | 'recall' | 'f1'): number => {
    if (!weights) return ratio(rows.reduce((s, r) => s + r[key], 0), rows.length);
    return ratio(rows.reduce((s, r, i) => s + r[key] * weights[i]!, 0), support);
  };
  return { precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), support };
}

export function classificationReport(confusion: readonly (readonly number[])[]): ClassificationReport {
  const rows = perClass(confusion);
  return {
    accuracy: accuracy(confusion),
    per_class: rows,
    macro_avg: average(rows, undefined),
    weighted_avg: average(rows, rows.map((r) => r.support)),
  };
}

/** Off-diagonal cells with a non-zero count, largest first (ties: lower true class, then lower predicted). */
export function mostConfused(confusion: readonly (readonly number[])[], limit = 10): ConfusedPair[] {
  const pairs: ConfusedPair[] = [];
  confusion.forEach((row, t) => {
    const support = row.reduce((s, v) => s + v, 0);
    row.forEach((count, p) => {
      if (p !== t && count > 0) pairs.push({ true: t, predicted: p, count, rate: ratio(count, support) });
    });
  });
  pairs.sort((a, b) => b.count - a.count || a.true - b.true || a.predicted - b.predicted);
  return pairs.slice(0, limit);
}

/** Probability clip of the cross-entropy, as Keras: the training loss (shard.ts) and every validation score use it. */
export const EPS = 1e-7;

/**
 * Accuracy and mean cross-entropy of predicted class probabilities, fed batch by batch: the one
 * validation scorer of train's `val_*` metrics, the training loop's per-epoch curve and the
 * ensemble's, so the three agree on the same predictions. Ties go to the lowest class (argmaxRows).
 */
export class ProbabilityScore {
  private correct = 0;
  private lossSum = 0;
  private count = 0;

  /** `proba` is row-major [labels.length, k]. */
  add(proba: ArrayLike<number>, labels: ArrayLike<number>, k: number): void {
    const n = labels.length;
    const predicted = argmaxRows(proba, n, k);
    for (let i = 0; i < n; i++) {
      const label = labels[i]!;
      if (predicted[i] === label) this.correct++;
      this.lossSum -= Math.log(Math.min(1 - EPS, Math.max(EPS, proba[i * k + label] ?? 0)));
    }
    this.count += n;
  }

  get accuracy(): number {
    return this.count === 0 ? 0 : this.correct / this.count;
  }

  get loss(): number {
    return this.count === 0 ? 0 : this.lossSum / this.count;
  }
}

/** Index of the largest value in each row of a row-major [n,k] matrix (ties: the lowest index, like numpy). */
export function argmaxRows(values: ArrayLike<number>, n: number, k: number): Uint8Array {
  if (k > 256) throw new StageInputError(`${k} classes do not fit uint8 predictions (at most 256 classes)`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = values[i * k + c]!;
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}
