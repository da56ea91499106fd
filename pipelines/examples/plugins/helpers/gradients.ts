/** Gradient orientation histograms per cell: the core of HOG, kept apart so the stage file stays short. */

/**
 * Histograms of one h×w image (row-major, from offset `at` of `x`): for each cell×cell block, `bins`
 * bins of unsigned gradient orientation (0–180°) weighted by gradient magnitude, written to `out`
 * from offset `to`, then the whole vector is L2-normalised so lighting changes cancel out.
 */
export function cellHistograms(x: Float32Array, at: number, h: number, w: number, cell: number, bins: number, out: Float32Array, to: number): void {
  const cellsY = Math.floor(h / cell);
  const cellsX = Math.floor(w / cell);
  const dims = cellsY * cellsX * bins;
  out.fill(0, to, to + dims);
  const px = (r: number, c: number): number => x[at + Math.min(h - 1, Math.max(0, r)) * w + Math.min(w - 1, Math.max(0, c))] ?? 0;
  for (let r = 0; r < cellsY * cell; r++) {
    for (let c = 0; c < cellsX * cell; c++) {
      const gx = px(r, c + 1) - px(r, c - 1);
      const gy = px(r + 1, c) - px(r - 1, c);
      const magnitude = Math.hypot(gx, gy);
      if (magnitude === 0) continue;
      const angle = ((Math.atan2(gy, gx) * 180) / Math.PI + 180) % 180;
      const bin = Math.min(bins - 1, Math.floor((angle / 180) * bins));
      const index = to + (Math.floor(r / cell) * cellsX + Math.floor(c / cell)) * bins + bin;
      out[index] = (out[index] ?? 0) + magnitude;
    }
  }
  let norm = 0;
  for (let i = to; i < to + dims; i++) norm += (out[i] ?? 0) ** 2;
  norm = Math.sqrt(norm) || 1;
  for (let i = to; i < to + dims; i++) out[i] = (out[i] ?? 0) / norm;
}
