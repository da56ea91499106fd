/**
 * Synthetic images whose class evidence sits in a known place: class 1 holds a filled 8×8 square,
 * class 0 does not. Both classes hold hollow 8×8 outlines as distractors, so only the filled
 * square tells the classes apart and Grad-CAM for class 1 must point at it.
 */
import { mulberry32 } from '../../stages/util/random.js';

export interface Synthetic {
  x: Float32Array; // [n,28,28,1]
  y: Uint8Array;
  /** Quadrant (0 TL, 1 TR, 2 BL, 3 BR) of the filled square; -1 for class 0. */
  evidence: Int8Array;
  /** Quadrant of the (first) distractor outline. */
  distractor: Int8Array;
}

function draw(img: Float32Array, offset: number, quadrant: number, filled: boolean, random: () => number): void {
  const top = (quadrant >> 1) * 14 + 1 + Math.floor(random() * 5);
  const left = (quadrant & 1) * 14 + 1 + Math.floor(random() * 5);
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 8; c++) {
      const edge = r === 0 || c === 0 || r === 7 || c === 7;
      if (filled || edge) img[offset + (top + r) * 28 + left + c] = 0.9 + 0.1 * random();
    }
  }
}

export function synthetic(n: number, seed: number): Synthetic {
  const random = mulberry32(seed);
  const x = new Float32Array(n * 784);
  const y = new Uint8Array(n);
  const evidence = new Int8Array(n);
  const distractor = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 784; p++) x[i * 784 + p] = 0.1 * random();
    const label = i % 2;
    const quadrants = [0, 1, 2, 3].sort(() => random() - 0.5);
    y[i] = label;
    distractor[i] = quadrants[1]!;
    draw(x, i * 784, quadrants[1]!, false, random);
    if (label === 1) {
      evidence[i] = quadrants[0]!;
      draw(x, i * 784, quadrants[0]!, true, random);
    } else {
      evidence[i] = -1;
      draw(x, i * 784, quadrants[0]!, false, random);
    }
  }
  return { x, y, evidence, distractor };
}

/** Share of a 28×28 heatmap's total mass inside one quadrant. */
export function quadrantShare(heat: Float32Array, offset: number, quadrant: number): number {
  let inside = 0;
  let total = 0;
  for (let r = 0; r < 28; r++) {
    for (let c = 0; c < 28; c++) {
      const v = heat[offset + r * 28 + c]!;
      total += v;
      if (((r >= 14 ? 2 : 0) | (c >= 14 ? 1 : 0)) === quadrant) inside += v;
    }
  }
  return total > 0 ? inside / total : 0;
}
