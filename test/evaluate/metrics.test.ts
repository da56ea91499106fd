import { describe, expect, it } from 'vitest';
import { accuracy, argmaxRows, classificationReport, confusionMatrix, EPS, mostConfused, perClass, ProbabilityScore } from '../../stages/evaluate/metrics.js';

// Case A: class 2 has support 3 but is never predicted.
//   true  0 0 0 1 1 2 2 2
//   pred  0 0 1 1 0 1 1 0
const A = { yTrue: [0, 0, 0, 1, 1, 2, 2, 2], yPred: [0, 0, 1, 1, 0, 1, 1, 0] };
// Case B: class 2 has zero support but is predicted once.
//   true  0 1 1 0
//   pred  0 2 1 1
const B = { yTrue: [0, 1, 1, 0], yPred: [0, 2, 1, 1] };

describe('confusionMatrix', () => {
  it('counts rows = true, columns = predicted', () => {
    expect(confusionMatrix(A.yTrue, A.yPred, 3)).toEqual([
      [2, 1, 0],
      [1, 1, 0],
      [1, 2, 0],
    ]);
    expect(confusionMatrix(Uint8Array.from(B.yTrue), Uint8Array.from(B.yPred), 3)).toEqual([
      [1, 1, 0],
      [0, 1, 1],
      [0, 0, 0],
    ]);
  });

  it('rejects out-of-range labels and length mismatches', () => {
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(RangeError);
    expect(() => confusionMatrix([0], [0, 1], 3)).toThrow(RangeError);
  });
});

describe('classification report (sklearn semantics, zero_division=0)', () => {
  it('handles a class that is never predicted', () => {
    const r = classificationReport(confusionMatrix(A.yTrue, A.yPred, 3));
    expect(r.accuracy).toBe(3 / 8);
    // class 0: TP 2, FP 2, FN 1; class 1: TP 1, FP 3, FN 1; class 2: TP 0, FP 0, FN 3.
    expect(r.per_class).toEqual([
      { precision: 0.5, recall: 2 / 3, f1: 4 / 7, support: 3 },
      { precision: 0.25, recall: 0.5, f1: 1 / 3, support: 2 },
      { precision: 0, recall: 0, f1: 0, support: 3 },
    ]);
    expect(r.macro_avg.precision).toBe(0.25);
    expect(r.macro_avg.recall).toBe((2 / 3 + 0.5 + 0) / 3);
    expect(r.macro_avg.recall).toBeCloseTo(0.388889, 6);
    expect(r.macro_avg.f1).toBe((4 / 7 + 1 / 3 + 0) / 3);
    expect(r.macro_avg.f1).toBeCloseTo(0.301587, 6);
    expect(r.macro_avg.support).toBe(8);
    expect(r.weighted_avg.precision).toBe(0.25);
    expect(r.weighted_avg.recall).toBe(3 / 8);
    expect(r.weighted_avg.f1).toBe(((4 / 7) * 3 + (1 / 3) * 2 + 0 * 3) / 8);
    expect(r.weighted_avg.f1).toBeCloseTo(0.297619, 6);
    expect(r.weighted_avg.support).toBe(8);
  });

  it('handles a class with zero support', () => {
    const r = classificationReport(confusionMatrix(B.yTrue, B.yPred, 3));
    expect(r.accuracy).toBe(0.5);
    expect(r.per_class).toEqual([
      { precision: 1, recall: 0.5, f1: 2 / 3, support: 2 },
      { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
      { precision: 0, recall: 0, f1: 0, support: 0 },
    ]);
    // The zero-support class still counts in the macro average (sklearn with labels=range(k)).
    expect(r.macro_avg).toEqual({ precision: 0.5, recall: 1 / 3, f1: (2 / 3 + 0.5 + 0) / 3, support: 4 });
    expect(r.weighted_avg).toEqual({ precision: 0.75, recall: 0.5, f1: ((2 / 3) * 2 + 0.5 * 2) / 4, support: 4 });
  });

  it('is all zeros for an empty matrix, never NaN', () => {
    const empty = confusionMatrix([], [], 2);
    const r = classificationReport(empty);
    expect(accuracy(empty)).toBe(0);
    expect(r.macro_avg).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(r.weighted_avg).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
  });

  it('perfect predictions score 1 everywhere', () => {
    const rows = perClass(confusionMatrix([0, 1, 2, 2], [0, 1, 2, 2], 3));
    expect(rows.map((c) => [c.precision, c.recall, c.f1])).toEqual([[1, 1, 1], [1, 1, 1], [1, 1, 1]]);
  });
});

describe('mostConfused', () => {
  it('orders off-diagonal cells by count, then true class, then predicted class', () => {
    const pairs = mostConfused(confusionMatrix(A.yTrue, A.yPred, 3));
    expect(pairs).toEqual([
      { true: 2, predicted: 1, count: 2, rate: 2 / 3 },
      { true: 0, predicted: 1, count: 1, rate: 1 / 3 },
      { true: 1, predicted: 0, count: 1, rate: 0.5 },
      { true: 2, predicted: 0, count: 1, rate: 1 / 3 },
    ]);
    expect(mostConfused(confusionMatrix(A.yTrue, A.yPred, 3), 2)).toHaveLength(2);
    expect(mostConfused([[3, 0], [0, 4]])).toEqual([]);
  });
});

describe('argmaxRows', () => {
  it('picks the largest value per row, the lowest index on ties', () => {
    const p = Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.5, 0, 0, 0, 1]);
    expect([...argmaxRows(p, 3, 3)]).toEqual([1, 0, 2]);
  });
});

describe('ProbabilityScore (the one validation scorer)', () => {
  it('is the same whether fed at once or batch by batch, clips like the training loss, and breaks ties low', () => {
    // 3 rows, 3 classes: correct, wrong (a tie between 0 and 1, label 1), and a certain wrong answer.
    const proba = new Float32Array([0.7, 0.2, 0.1, 0.4, 0.4, 0.2, 1, 0, 0]);
    const labels = new Uint8Array([0, 1, 2]);
    const whole = new ProbabilityScore();
    whole.add(proba, labels, 3);
    const batched = new ProbabilityScore();
    batched.add(proba.subarray(0, 6), labels.subarray(0, 2), 3);
    batched.add(proba.subarray(6), labels.subarray(2), 3);
    expect(whole.accuracy).toBeCloseTo(1 / 3, 12);
    expect(batched.accuracy).toBe(whole.accuracy);
    expect(batched.loss).toBeCloseTo(whole.loss, 12);
    // p = 0 is clipped to EPS, as Keras clips the training loss: finite, -log(1e-7) ≈ 16.1.
    const expected = -(Math.log(Math.fround(0.7)) + Math.log(Math.fround(0.4)) + Math.log(EPS)) / 3;
    expect(whole.loss).toBeCloseTo(expected, 6);
    expect(new ProbabilityScore().loss).toBe(0);
  });
});
