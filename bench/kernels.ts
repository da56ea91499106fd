/**
 * Micro-benchmark of CNN training on the tfjs wasm backend (the kernels in stages/tf/kernels).
 *
 *   npx tsc -p . && node dist/bench/kernels.js [--json] [--profile]
 *
 * Figures are training images per second at batch 128 on synthetic 28x28x1 data: whole train steps
 * (forward + backward + Adam update) for the seed CNN and a small ResNet, plus the conv-gradient kernels
 * alone at the seed CNN's shapes. Steps go through the training stage's own data-parallel path
 * (stages/models/tf/data-parallel.ts) with the threads a training stage gets here: 2 batch shards
 * (resnet's default, and cnn with `batch_shards: 2`), one thread per shard up to the machine's cores. `*.train_1_thread` is
 * the same step on one thread. Timings are wall clock and sensitive to other load on the machine.
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import { DataParallelStep } from '../stages/models/tf/data-parallel.js';
import { initTf } from '../stages/tf/backend.js';

/** Shards per batch: resnet's `batch_shards` default (cnn defaults to 1; 2 is what it trains with on two cores). */
const SHARDS = 2;

const BATCH = 128;

/**
 * Seed CNN: Conv32 -> MaxPool2 -> Conv64 -> MaxPool2 -> Conv128 -> Flatten(1152) -> Dense128 -> Dense10.
 * With `batchNorm`, as the project's `cnn` model defaults: conv (no bias) -> BN -> ReLU, dropout 0.3 after Dense128.
 */
export function seedCnn(tf: typeof TF, options: { batchNorm?: boolean } = {}): TF.LayersModel {
  const bn = options.batchNorm ?? false;
  const model = tf.sequential();
  [32, 64, 128].forEach((filters, i) => {
    if (i > 0) model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tf.layers.conv2d({ ...(i === 0 ? { inputShape: [28, 28, 1] } : {}), filters, kernelSize: 3, useBias: !bn, activation: bn ? 'linear' : 'relu' }));
    if (bn) {
      model.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }));
      model.add(tf.layers.activation({ activation: 'relu' }));
    }
  });
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 128, activation: 'relu' }));
  if (bn) model.add(tf.layers.dropout({ rate: 0.3 }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  return model;
}

function resBlock(tf: typeof TF, input: TF.SymbolicTensor, filters: number): TF.SymbolicTensor {
  let y = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false }).apply(input) as TF.SymbolicTensor;
  y = tf.layers.batchNormalization().apply(y) as TF.SymbolicTensor;
  y = tf.layers.activation({ activation: 'relu' }).apply(y) as TF.SymbolicTensor;
  y = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false }).apply(y) as TF.SymbolicTensor;
  y = tf.layers.batchNormalization().apply(y) as TF.SymbolicTensor;
  y = tf.layers.add().apply([y, input]) as TF.SymbolicTensor;
  return tf.layers.activation({ activation: 'relu' }).apply(y) as TF.SymbolicTensor;
}

/** Small ResNet: Conv32 -> MaxPool -> ResBlock(32) -> MaxPool -> ResBlock(32) -> GlobalAvgPool -> Dense10. */
export function smallResNet(tf: typeof TF): TF.LayersModel {
  const input = tf.input({ shape: [28, 28, 1] });
  let y = tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as TF.SymbolicTensor;
  y = tf.layers.maxPooling2d({ poolSize: 2 }).apply(y) as TF.SymbolicTensor;
  y = resBlock(tf, y, 32);
  y = tf.layers.maxPooling2d({ poolSize: 2 }).apply(y) as TF.SymbolicTensor;
  y = resBlock(tf, y, 32);
  y = tf.layers.globalAveragePooling2d({}).apply(y) as TF.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, activation: 'softmax' }).apply(y) as TF.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** Median and best of per-step times, as images/s: the median is the figure, the best shows what contention hides. */
function rates(times: number[]): { median: number; best: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return { median: (BATCH * 1000) / sorted[Math.floor(sorted.length / 2)]!, best: (BATCH * 1000) / sorted[0]! };
}

/** Training throughput after warm-up steps (which build XNNPACK operators and grow the heap once). */
async function trainThroughput(tf: typeof TF, model: TF.LayersModel, steps: number, threads: number): Promise<{ median: number; best: number }> {
  const optimizer = tf.train.adam(1e-3);
  const stepper = await DataParallelStep.create(tf, model, {
    shards: SHARDS,
    threads,
    batchSize: BATCH,
    sampleShape: [28, 28, 1],
    numClasses: 10,
    labelSmoothing: 0,
    backend: tf.getBackend(),
    log: (m) => console.error(m),
  });
  try {
    let s = 12345;
    for (let i = 0; i < stepper.batchX.length; i++) stepper.batchX[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
    for (let i = 0; i < BATCH; i++) stepper.batchY[i] = i % 10;
    const seeds = Array.from({ length: SHARDS }, (_, k) => Array.from({ length: stepper.dropoutCount }, (_, j) => 1 + k * 7 + j));
    for (let i = 0; i < 3; i++) await stepper.step(BATCH, seeds, optimizer);
    const tensorsBefore = tf.memory().numTensors;
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      await stepper.step(BATCH, seeds, optimizer);
      times.push(performance.now() - t0);
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked !== 0) throw new Error(`training steps leaked ${leaked} tensors`);
    return rates(times);
  } finally {
    stepper.dispose();
    model.dispose();
    optimizer.dispose();
  }
}

/** One kernel alone at batch 128, run directly (no gradient tape): images/s if a step did nothing else. */
function kernelRate(tf: typeof TF, name: string, inputs: Record<string, TF.Tensor>, attrs: object, reps = 7): number {
  const runOnce = () => (tf.engine().runKernel(name, inputs, attrs as TF.NamedAttrMap) as TF.Tensor).dispose();
  runOnce();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    runOnce();
    times.push(performance.now() - t0);
  }
  return rates(times).median;
}

/** The gradient kernels at the seed CNN's shapes (layer 1: 28x28x1 -> 26x26x32, layer 2: 13x13x32 -> 11x11x64). */
function kernelThroughputs(tf: typeof TF): Record<string, number> {
  const out: Record<string, number> = {};
  const t = tf.tidy(() => ({
    x1: tf.randomNormal([BATCH, 28, 28, 1]), dy1: tf.randomNormal([BATCH, 26, 26, 32]),
    x2: tf.randomNormal([BATCH, 13, 13, 32]), w2: tf.randomNormal([3, 3, 32, 64]), dy2: tf.randomNormal([BATCH, 11, 11, 64]),
    p: tf.relu(tf.randomNormal([BATCH, 26, 26, 32])), dp: tf.randomNormal([BATCH, 13, 13, 32]),
    a: tf.randomNormal([BATCH, 1152]), da: tf.randomNormal([BATCH, 128]),
  }));
  const conv = { strides: 1, pad: 'valid', dataFormat: 'NHWC' };
  out['conv1.backprop_filter'] = kernelRate(tf, 'Conv2DBackpropFilter', { x: t.x1, dy: t.dy1 }, { ...conv, filterShape: [3, 3, 1, 32] });
  out['conv2.forward'] = kernelRate(tf, 'Conv2D', { x: t.x2, filter: t.w2 }, { ...conv, dilations: 1 });
  out['conv2.backprop_input'] = kernelRate(tf, 'Conv2DBackpropInput', { dy: t.dy2, filter: t.w2 }, { ...conv, inputShape: t.x2.shape });
  out['conv2.backprop_filter'] = kernelRate(tf, 'Conv2DBackpropFilter', { x: t.x2, dy: t.dy2 }, { ...conv, filterShape: [3, 3, 32, 64] });
  const pooled = tf.maxPool(t.p as TF.Tensor4D, 2, 2, 'valid');
  out['maxpool1.grad'] = kernelRate(tf, 'MaxPoolGrad', { dy: t.dp, input: t.p, output: pooled }, { filterSize: 2, strides: 2, pad: 'valid' });
  out['dense1.grad_weights'] = kernelRate(tf, 'BatchMatMul', { a: t.a, b: t.da }, { transposeA: true, transposeB: false });
  tf.dispose([pooled, ...Object.values(t)]);
  return out;
}

/**
 * GFLOP/s of a 1024x1024x1024 matMul on one thread: XNNPACK's GEMM rate on wasm SIMD, the ceiling the
 * convolution kernels (all GEMMs underneath) can reach. conv2's kernels do 4.46 MFLOP per image.
 */
export async function wasmGemmGflops(): Promise<number> {
  const { tf } = await initTf('wasm');
  const n = 1024;
  const [a, b] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])];
  const once = () => { const c = tf.matMul(a, b); c.dataSync(); c.dispose(); };
  once();
  const seconds: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    once();
    seconds.push((performance.now() - t0) / 1000);
  }
  tf.dispose([a, b]);
  const median = [...seconds].sort((x, y) => x - y)[2]!;
  return (2 * n ** 3) / median / 1e9;
}

/** Threads a training stage gets on this machine: one per shard, up to the cores (`--jobs` defaults to them). */
function stageThreads(): number {
  return Math.max(1, Math.min(SHARDS, availableParallelism()));
}

export async function benchKernels(options: { steps?: number; kernels?: boolean } = {}): Promise<Record<string, number>> {
  const { tf } = await initTf('wasm');
  const steps = options.steps ?? 12;
  const threads = stageThreads();
  const out: Record<string, number> = { threads };
  const networks: Array<[string, () => TF.LayersModel]> = [
    ['seed_cnn', () => seedCnn(tf)],
    ['seed_cnn_batchnorm', () => seedCnn(tf, { batchNorm: true })],
    ['resnet', () => smallResNet(tf)],
  ];
  for (const [name, build] of networks) {
    const r = await trainThroughput(tf, build(), steps, threads);
    out[`${name}.train`] = r.median;
    out[`${name}.train_best_step`] = r.best;
    if (threads > 1) out[`${name}.train_1_thread`] = (await trainThroughput(tf, build(), steps, 1)).median;
  }
  return options.kernels === false ? out : { ...out, ...kernelThroughputs(tf) };
}

/** Per-kernel share of one seed-CNN or ResNet training step (tf.profile; wasm kernels run synchronously). */
export async function profileStep(which: 'seed' | 'resnet'): Promise<Array<[string, number]>> {
  const { tf } = await initTf('wasm');
  const model = which === 'seed' ? seedCnn(tf) : smallResNet(tf);
  const optimizer = tf.train.adam(1e-3);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const { xs, ys } = tf.tidy(() => ({
    xs: tf.randomUniform([BATCH, 28, 28, 1]),
    ys: tf.oneHot(tf.randomUniform([BATCH], 0, 10, 'int32') as TF.Tensor1D, 10),
  }));
  await model.trainOnBatch(xs, ys);
  const info = await tf.profile(async () => { await model.trainOnBatch(xs, ys); });
  const byName = new Map<string, number>();
  for (const k of info.kernels) byName.set(k.name, (byName.get(k.name) ?? 0) + Number(k.kernelTimeMs));
  tf.dispose([xs, ys]);
  model.dispose();
  optimizer.dispose();
  return [...byName.entries()].sort((p, q) => q[1] - p[1]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const json = process.argv.includes('--json');
  const results = await benchKernels({ kernels: !json });
  if (json) console.log(JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v)])), null, 2));
  else for (const [name, value] of Object.entries(results)) console.log(`${name.padEnd(44)} ${value.toFixed(0)}${name === 'threads' ? '' : ' images/s'}`);
  if (process.argv.includes('--profile')) {
    for (const which of ['seed', 'resnet'] as const) {
      const rows = await profileStep(which);
      const total = rows.reduce((s, [, ms]) => s + ms, 0);
      console.log(`\n${which}: kernel time ${total.toFixed(1)} ms per step`);
      for (const [name, ms] of rows.slice(0, 12)) console.log(`  ${name.padEnd(28)} ${ms.toFixed(1).padStart(7)} ms ${((100 * ms) / total).toFixed(0).padStart(3)}%`);
    }
  }
}
