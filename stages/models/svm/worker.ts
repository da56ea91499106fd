/**
 * Worker thread for `svm`: trains one class pair per job over the shared (PCA-projected) training
 * rows. Compiled to dist/stages/models/svm/worker.js; see ../worker-pool.ts.
 */
import { serveJobs } from '../worker-pool.js';
import { trainPair, type LibsvmOptions, type PairModel } from './libsvm.js';

export interface SvmWorkerData {
  readonly x: Float32Array;
  readonly y: Uint8Array;
  readonly n: number;
  readonly dims: number;
  readonly options: LibsvmOptions;
}

serveJobs<[number, number], PairModel>(async ([a, b], raw) => {
  const { x, y, n, dims, options } = raw as SvmWorkerData;
  const pair = await trainPair(x, y, n, dims, a, b, options);
  return { result: pair, transfer: [pair.svIndex.buffer, pair.coef.buffer] as ArrayBuffer[] };
});
