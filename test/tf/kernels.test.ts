/**
 * The wasm training kernels (stages/tf/kernels) against the cpu backend, op by op and through whole
 * gradient steps. Shapes are small and random (fixed seed) so the cpu reference stays fast.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs';
import { initTf } from '../../stages/tf/backend.js';
import { BATCH_NORM_GRAD, batchNormGradKernels } from '../../stages/tf/kernels/batch_norm_grad.js';
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from '../../stages/tf/kernels/index.js';
import { simdRoutines } from '../../stages/tf/kernels/wasm_simd.js';
import { OUR_KERNEL, stockGradient } from '../../stages/tf/kernels/wasm_util.js';

let tf: typeof TF;

/** Deterministic PRNG, so a failing case can be reproduced from its printed parameters. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = rng(12345);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const values = (n: number, opts: { ints?: boolean } = {}) =>
  Float32Array.from({ length: n }, () => (opts.ints ? Math.floor(rand() * 4) - 1 : rand() * 2 - 1));

type Inputs = Record<string, { shape: number[]; data: Float32Array | Int32Array | Uint8Array; dtype?: TF.DataType }>;

/** Runs `kernel` on one backend from plain arrays and returns the output values and shape. */
async function runOn(backend: 'cpu' | 'wasm', kernel: string, inputs: Inputs, attrs: object) {
  await tf.setBackend(backend);
  const ts: Record<string, TF.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.data, v.shape, v.dtype ?? 'float32');
  const out = tf.engine().runKernel(kernel, ts, attrs as TF.NamedAttrMap) as TF.Tensor;
  const result = { shape: out.shape, data: Array.from(await out.data()) as number[] };
  tf.dispose([out, ...Object.values(ts)]);
  return result;
}

function expectClose(actual: number[], expected: number[], tol: number, what: string) {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!));
    if (!(err <= worst)) worst = err; // also catches NaN
  }
  expect(worst, what).toBeLessThanOrEqual(tol);
}

async function compare(kernel: string, inputs: Inputs, attrs: object, tol = 1e-4) {
  const want = await runOn('cpu', kernel, inputs, attrs);
  const got = await runOn('wasm', kernel, inputs, attrs);
  const what = `${kernel} ${JSON.stringify(attrs)} ${JSON.stringify(Object.values(inputs).map((i) => i.shape))}`;
  expect(got.shape, what).toEqual(want.shape);
  expectClose(got.data, want.data, tol, what);
}

beforeAll(async () => {
  ({ tf } = await initTf('wasm'));
});

describe('registration', () => {
  it('is idempotent and replaces the stock kernels', () => {
    const before = WASM_TRAINING_KERNELS.map((k) => tf.getKernel(k.kernelName, 'wasm')?.kernelFunc);
    registerWasmTrainingKernels();
    registerWasmTrainingKernels();
    const after = WASM_TRAINING_KERNELS.map((k) => tf.getKernel(k.kernelName, 'wasm')?.kernelFunc);
    expect(after).toEqual(before);
    for (const fn of after) expect(fn && OUR_KERNEL in fn).toBe(true);
  });

  it('runs on the SIMD heap routines in Node', () => {
    expect(simdRoutines((tf.backend() as unknown as { wasm: object }).wasm)).not.toBeNull();
  });
});

const PADS = ['same', 'valid'] as const;

/** Random conv geometry; `c` forced to 1 exercises the GEMM filter-gradient route. */
function convCase(opts: { c?: number; stride?: number; pad?: 'same' | 'valid' | number } = {}) {
  const k = int(1, 3);
  const stride = opts.stride ?? pick([1, 2]);
  const pad = opts.pad ?? pick(PADS);
  const n = int(1, 3);
  const h = int(k + 1, 9);
  const w = int(k + 1, 9);
  const c = opts.c ?? pick([1, 3, 4, 8]);
  const co = pick([2, 4, 5, 16]);
  const info = tf.backend_util.computeConv2DInfo([n, h, w, c], [k, k, c, co], stride, 1, pad);
  return { n, h, w, c, co, k, stride, pad, outShape: info.outShape };
}

describe('Conv2DBackpropFilter', () => {
  it('matches cpu on random shapes, strides 1/2, same/valid/explicit padding', async () => {
    const cases = [
      ...Array.from({ length: 14 }, () => convCase()),
      convCase({ c: 1, stride: 1, pad: 'same' }), // GEMM route
      convCase({ c: 1, stride: 2, pad: 'valid' }),
      convCase({ c: 8, stride: 2, pad: 'valid' }), // conv route, often with cropped rows
      convCase({ c: 4, stride: 1, pad: 1 }),
    ];
    for (const t of cases) {
      await compare('Conv2DBackpropFilter', {
        x: { shape: [t.n, t.h, t.w, t.c], data: values(t.n * t.h * t.w * t.c) },
        dy: { shape: t.outShape, data: values(t.outShape.reduce((a, b) => a * b)) },
      }, { strides: t.stride, pad: t.pad, dataFormat: 'NHWC', filterShape: [t.k, t.k, t.c, t.co] });
    }
  });

  it('GEMM route with window rows long enough to be copied whole (kw*c >= 16), inside and over the padding', async () => {
    const cases: Array<{ x: [number, number, number, number]; k: number; co: number; strides: number; pad: 'same' | 'valid' }> = [
      { x: [2, 7, 7, 6], k: 3, co: 54, strides: 1, pad: 'same' },
      { x: [2, 7, 6, 6], k: 3, co: 60, strides: 2, pad: 'valid' },
      { x: [3, 5, 5, 16], k: 1, co: 16, strides: 1, pad: 'valid' },
    ];
    for (const { x, k, co, strides, pad } of cases) {
      const outShape = tf.backend_util.computeConv2DInfo(x, [k, k, x[3], co], strides, 1, pad).outShape;
      await compare('Conv2DBackpropFilter', {
        x: { shape: x, data: values(x.reduce((a, b) => a * b)) },
        dy: { shape: outShape, data: values(outShape.reduce((a, b) => a * b)) },
      }, { strides, pad, dataFormat: 'NHWC', filterShape: [k, k, x[3], co] });
    }
  });

  it('handles the 13x13 -> stride 2 valid case whose last row is never read', async () => {
    const [n, h, c, co] = [2, 8, 4, 3];
    const oh = 3; // (8 - 3) / 2 + 1, so row 7 is outside every window
    await compare('Conv2DBackpropFilter', {
      x: { shape: [n, h, h, c], data: values(n * h * h * c) },
      dy: { shape: [n, oh, oh, co], data: values(n * oh * oh * co) },
    }, { strides: 2, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, c, co] });
  });
});

describe('Conv2DBackpropInput', () => {
  it('matches cpu on random shapes, strides 1/2, same/valid/explicit padding', async () => {
    const cases = [...Array.from({ length: 16 }, () => convCase()), convCase({ stride: 2, pad: 2 }), convCase({ stride: 1, pad: 1 })];
    for (const t of cases) {
      await compare('Conv2DBackpropInput', {
        dy: { shape: t.outShape, data: values(t.outShape.reduce((a, b) => a * b)) },
        filter: { shape: [t.k, t.k, t.c, t.co], data: values(t.k * t.k * t.c * t.co) },
      }, { strides: t.stride, pad: t.pad, dataFormat: 'NHWC', inputShape: [t.n, t.h, t.w, t.c] });
    }
  });

  it('covers each route: conv on dy, conv on dilated/cropped dy, GEMM + col2im', async () => {
    const cases: Array<{ x: [number, number, number, number]; k: number; strides: number | [number, number]; pad: 'same' | 'valid' | number }> = [
      { x: [2, 9, 9, 4], k: 3, strides: 1, pad: 'same' }, // conv on dy, implicit padding
      { x: [2, 5, 5, 3], k: 1, strides: [2, 1], pad: 'same' }, // conv on a dilated dy
      { x: [2, 4, 4, 3], k: 1, strides: 1, pad: 2 }, // negative padding: conv on a cropped dy
      { x: [2, 5, 5, 4], k: 3, strides: 1, pad: 'valid' }, // output much smaller than input: GEMM
      { x: [2, 8, 8, 4], k: 3, strides: 2, pad: 'same' }, // strided: GEMM
      { x: [2, 6, 6, 1], k: 3, strides: 1, pad: 'same' }, // one input channel: GEMM
    ];
    for (const { x, k, strides, pad } of cases) {
      const co = 5;
      const outShape = tf.backend_util.computeConv2DInfo(x, [k, k, x[3], co], strides, 1, pad).outShape;
      await compare('Conv2DBackpropInput', {
        dy: { shape: outShape, data: values(outShape.reduce((a, b) => a * b)) },
        filter: { shape: [k, k, x[3], co], data: values(k * k * x[3] * co) },
      }, { strides, pad, dataFormat: 'NHWC', inputShape: x });
    }
  });
});

describe('MaxPoolGrad', () => {
  const cases: Array<{ shape: [number, number, number, number]; size: number; stride: number; pad: 'same' | 'valid' }> = [
    { shape: [2, 6, 6, 8], size: 2, stride: 2, pad: 'valid' }, // SIMD path
    { shape: [3, 7, 5, 4], size: 2, stride: 2, pad: 'valid' }, // SIMD path, odd sizes (uncovered row/col)
    { shape: [2, 6, 8, 4], size: 2, stride: 2, pad: 'same' }, // same == valid here: SIMD path
    { shape: [2, 5, 5, 3], size: 2, stride: 2, pad: 'same' }, // padded window, C % 4 != 0: JS path
    { shape: [2, 7, 6, 5], size: 3, stride: 2, pad: 'same' }, // overlapping windows
    { shape: [1, 6, 6, 2], size: 3, stride: 1, pad: 'valid' },
    { shape: [2, 6, 6, 4], size: 2, stride: 1, pad: 'valid' },
  ];
  it.each(cases)('matches cpu for $shape size $size stride $stride $pad, including ties', async ({ shape, size, stride, pad }) => {
    for (const ints of [false, true]) { // small integers make ties common, as ReLU zeros do in training
      const n = shape.reduce((a, b) => a * b);
      const input = values(n, { ints });
      await tf.setBackend('cpu');
      const output = tf.tidy(() => tf.maxPool(tf.tensor4d(input, shape), size, stride, pad));
      const outData = output.dataSync() as Float32Array;
      const outShape = output.shape;
      output.dispose();
      await compare('MaxPoolGrad', {
        dy: { shape: outShape, data: values(outData.length) },
        input: { shape, data: input },
        output: { shape: outShape, data: outData },
      }, { filterSize: size, strides: stride, pad });
    }
  });
});

describe('Relu gradient (PipeReluGrad)', () => {
  it.each([[2, 5, 5, 4], [3, 7], [1, 9, 9, 3]])('equals tfjs\' own formula exactly on cpu for shape %j, zeros and negatives included', async (...shape) => {
    const n = shape.reduce((a, b) => a * b);
    // Small integers: many exact zeros, where relu's derivative is 0 by tfjs' convention.
    const x = values(n, { ints: true });
    const w = values(n);
    const grad = async (backend: 'cpu' | 'wasm') => {
      await tf.setBackend(backend);
      const xt = tf.tensor(x, shape);
      const wt = tf.tensor(w, shape);
      const g = tf.grad((v: TF.Tensor) => tf.sum(tf.mul(tf.relu(v), wt)))(xt);
      const out = Array.from(await g.data());
      tf.dispose([xt, wt, g]);
      return out;
    };
    const want = await grad('cpu');
    const got = await grad('wasm');
    expect(got).toEqual(want);
    // The wasm route really is the one-pass kernel: no Step is run.
    await tf.setBackend('wasm');
    const profile = await tf.profile(() => {
      const xt = tf.tensor(x, shape);
      tf.dispose([xt, tf.grad((v: TF.Tensor) => tf.sum(tf.relu(v)))(xt)]);
    });
    expect(profile.kernelNames).toContain('PipeReluGrad');
    expect(profile.kernelNames).not.toContain('Step');
  });
});

/**
 * Runs `fn` on wasm with tfjs' own composite FusedBatchNorm gradient: without the PipeBatchNormGrad
 * kernel our gradient falls back to it, exactly as on a backend that lacks the kernel.
 */
async function withCompositeBatchNormGrad<T>(fn: () => Promise<T>): Promise<T> {
  tf.unregisterKernel(BATCH_NORM_GRAD, 'wasm');
  try {
    return await fn();
  } finally {
    for (const config of batchNormGradKernels) tf.registerKernel(config);
  }
}

/** Bit patterns, so -0 vs 0 and NaN payloads count as differences. */
const bits = (xs: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(xs).buffer));

/**
 * Trains `model` three Adam steps on one batch of n 28x28x1 images twice, once inside `reference` (which
 * swaps in the formula a kernel replaces) and once as registered, and expects bit-identical weights.
 */
async function expectAdamStepsUnchanged(model: TF.LayersModel, n: number, reference: <T>(fn: () => Promise<T>) => Promise<T>) {
  const initial = model.getWeights().map((t) => t.clone());
  const xs = tf.tensor4d(values(n * 28 * 28).map((v) => (v + 1) / 2), [n, 28, 28, 1]);
  const ys = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7) % 10), 'int32'), 10);
  const train = async () => {
    model.setWeights(initial);
    const optimizer = tf.train.adam(1e-2);
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    for (let step = 0; step < 3; step++) await model.trainOnBatch(xs, ys);
    const weights = model.getWeights().map((t) => bits(t.dataSync()));
    optimizer.dispose();
    return weights;
  };
  const want = await reference(train);
  const got = await train();
  expect(got.length).toBe(want.length);
  got.forEach((w, i) => expect(w, `weight ${i}`).toEqual(want[i]));
  // Training moved the weights, so the equality above compares real updates.
  expect(bits(initial[0]!.dataSync())).not.toEqual(got[0]);
  tf.dispose([xs, ys, ...initial]);
  model.dispose();
}

describe('FusedBatchNorm gradient (PipeBatchNormGrad)', () => {
  // [n, h, w, c]: rows (n·h·w) below, at and across the Sum kernel's 256-row blocks; c a multiple of 4;
  // and [n, c], batch norm after a dense layer.
  it.each([[1, 3, 5, 4], [2, 8, 16, 8], [3, 13, 11, 16], [5, 7, 9, 12], [16, 8]])('equals tfjs\' composite bit for bit on wasm for x %j', async (...shape) => {
    const c = shape[shape.length - 1]!;
    const x = values(shape.reduce((a, b) => a * b));
    const w = values(x.length);
    const [mean, variance, offset, scale] = [values(c), values(c).map((v) => v * v + 0.1), values(c), values(c)];
    const grads = async () => {
      await tf.setBackend('wasm');
      const ts = [tf.tensor(x, shape), tf.tensor1d(mean), tf.tensor1d(variance), tf.tensor1d(offset), tf.tensor1d(scale)];
      const wt = tf.tensor(w, shape);
      const gs = tf.grads((...a: TF.Tensor[]) => tf.sum(tf.mul(tf.batchNorm(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, 1e-5), wt)))(ts);
      const out = await Promise.all(gs.map(async (g) => ({ shape: g.shape, bits: bits(await g.data()) })));
      tf.dispose([...ts, wt, ...gs]);
      return out;
    };
    const want = await withCompositeBatchNormGrad(grads);
    const got = await grads();
    expect(got).toEqual(want);
    // The fused route really ran: one kernel, and none of the composite's Tile.
    const profile = await tf.profile(async () => { tf.dispose(await grads()); });
    expect(profile.kernelNames).toContain(BATCH_NORM_GRAD);
    expect(profile.kernelNames).not.toContain('Tile');
  });

  // tfjs' own gradient cannot run without a scale (it saves the missing tensor), and tf.batchNorm
  // makes a rank-2 x (batch norm after a dense layer) 4-D, which the fused pass takes; so the
  // fallback that matters is channels not a multiple of 4.
  it.each([[[2, 3, 3, 3]], [[4, 5, 2, 6]]])('falls back to tfjs\' composite where the fused pass does not apply: x %j', async (shape) => {
    const c = shape[shape.length - 1]!;
    const data = [values(shape.reduce((a, b) => a * b)), values(c), values(c).map((v) => v * v + 0.1), values(c), values(c)] as const;
    const grads = async () => {
      await tf.setBackend('wasm');
      const inputs = [tf.tensor(data[0], shape), ...data.slice(1).map((v) => tf.tensor1d(v))];
      const gs = tf.grads((...a: TF.Tensor[]) => tf.sum(tf.square(tf.batchNorm(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, 1e-5))))(inputs);
      const out = await Promise.all(gs.map(async (g) => ({ shape: g.shape, bits: bits(await g.data()) })));
      tf.dispose([...inputs, ...gs]);
      return out;
    };
    const profile = await tf.profile(async () => { tf.dispose(await grads()); });
    expect(profile.kernelNames).not.toContain(BATCH_NORM_GRAD);
    // The fallback is tfjs' composite itself, not an approximation of it.
    expect(await grads()).toEqual(await withCompositeBatchNormGrad(grads));
  });

  it('leaves Adam training of a batch-norm CNN at real Fashion-MNIST shapes bit-identical', async () => {
    await tf.setBackend('wasm');
    // conv (no bias) -> BN -> ReLU twice, as the cnn model builds them; batch 64 of 28x28x1 images.
    const model = tf.sequential();
    [16, 32].forEach((filters, i) => {
      if (i > 0) model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
      const init = tf.initializers.glorotUniform({ seed: 11 + i });
      model.add(tf.layers.conv2d({ ...(i === 0 ? { inputShape: [28, 28, 1] } : {}), filters, kernelSize: 3, useBias: false, kernelInitializer: init }));
      model.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }));
      model.add(tf.layers.activation({ activation: 'relu' }));
    });
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 13 }) }));
    await expectAdamStepsUnchanged(model, 64, withCompositeBatchNormGrad);
  });
});

/** tfjs' own Mean gradient, registered while `fn` runs, then ours again. */
async function withStockMeanGradient<T>(fn: () => Promise<T>): Promise<T> {
  const ours = tf.getGradient(tf.Mean)!;
  tf.registerGradient(stockGradient(tf.Mean));
  try {
    return await fn();
  } finally {
    tf.registerGradient(ours);
  }
}

describe('Mean gradient', () => {
  // Batch-norm moments ([N,H,W,C] over N,H,W), global average pooling (over H,W), the loss (all axes).
  it.each([
    [[3, 13, 11, 16], [0, 1, 2], false], [[3, 13, 11, 16], [0, 1, 2], true], [[4, 7, 7, 8], [1, 2], false], [[6, 10], [0, 1], false],
    [[5, 9], [-1], true], [[5, 9], [-1], false], [[4, 6], null, false],
  ] as const)('equals tfjs\' own formula bit for bit on wasm for x %j over %j (keepDims %s), without a tensor of ones', async (shape, axis, keepDims) => {
    await tf.setBackend('wasm');
    const x = tf.tensor(values(shape.reduce((a, b) => a * b, 1)), [...shape]);
    const mean = (t: TF.Tensor) => (axis === null ? tf.mean(t) : tf.mean(t, [...axis], keepDims));
    const outShape = tf.tidy(() => mean(x).shape);
    const dy = tf.tensor(values(tf.util.sizeFromShape(outShape)), outShape);
    const grad = async () => {
      const g = tf.grad(mean)(x, dy);
      const out = bits(await g.data());
      g.dispose();
      return out;
    };
    const want = await withStockMeanGradient(grad);
    const tensorsBefore = tf.memory().numTensors;
    expect(await grad()).toEqual(want);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const profile = await tf.profile(async () => { await grad(); });
    expect(profile.kernelNames).not.toContain('Multiply');
    tf.dispose([x, dy]);
  });

  it('leaves Adam training of a batch-norm CNN (moments of every activation) bit-identical', async () => {
    await tf.setBackend('wasm');
    const model = tf.sequential();
    model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 21 }) }));
    model.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }));
    model.add(tf.layers.activation({ activation: 'relu' }));
    model.add(tf.layers.globalAveragePooling2d({}));
    model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 22 }) }));
    await expectAdamStepsUnchanged(model, 32, withStockMeanGradient);
  });

  it('keeps tfjs\' own gradient on other backends and for empty tensors', async () => {
    await tf.setBackend('wasm');
    const empty = tf.zeros([0, 3]);
    expect(tf.grad((t: TF.Tensor) => tf.mean(t, 0))(empty).shape).toEqual([0, 3]);
    empty.dispose();
    await tf.setBackend('cpu');
    const x = tf.tensor(values(24), [2, 3, 4]);
    const grad = async () => bits(await tf.grad((t: TF.Tensor) => tf.mean(t, [0, 1]))(x).data());
    const profile = await tf.profile(async () => { await grad(); });
    expect(profile.kernelNames).toContain('Multiply'); // the multiply by ones of tfjs' formula
    expect(await grad()).toEqual(await withStockMeanGradient(grad));
    x.dispose();
    await tf.setBackend('wasm');
  });
});

describe('BatchMatMul', () => {
  it('matches cpu for every transpose combination, 2-D and batched', async () => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      for (const batch of [[], [1], [3]]) {
        const [m, k, n] = [int(1, 9), int(1, 9), int(1, 9)];
        const aShape = [...batch, ...(ta ? [k, m] : [m, k])];
        const bShape = [...batch, ...(tb ? [n, k] : [k, n])];
        await compare('BatchMatMul', {
          a: { shape: aShape, data: values(aShape.reduce((p, q) => p * q, 1)) },
          b: { shape: bShape, data: values(bShape.reduce((p, q) => p * q, 1)) },
        }, { transposeA: ta, transposeB: tb });
      }
    }
  });
});

describe('Identity, Tile, Sum, Mean', () => {
  it('Identity shares the buffer and frees it only when the last holder is disposed', async () => {
    await tf.setBackend('wasm');
    const dataIds = () => tf.engine().backend.numDataIds();
    const before = dataIds();
    const a = tf.tensor([1, 2, 3, 4], [2, 2]);
    const b = tf.clone(a);
    expect(dataIds()).toBe(before + 1);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    b.dispose();
    expect(dataIds()).toBe(before);
  });

  it('Cast to the same dtype shares the buffer; another dtype goes to the stock kernel', async () => {
    await tf.setBackend('wasm');
    const dataIds = () => tf.engine().backend.numDataIds();
    const a = tf.tensor([1.5, -2.25, 3, 0], [2, 2]);
    const before = dataIds();
    const same = tf.cast(a, 'float32');
    expect(dataIds()).toBe(before);
    a.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.25, 3, 0]);
    same.dispose();
    await compare('Cast', { x: { shape: [2, 3], data: values(6) } }, { dtype: 'int32' });
    await compare('Cast', { x: { shape: [4], data: Int32Array.from([3, -1, 0, 7]), dtype: 'int32' } }, { dtype: 'float32' });
  });

  it('Tile matches cpu for float32, int32 and bool', async () => {
    const cases: Array<[number[], number[]]> = [[[1, 1, 1, 4], [2, 3, 5, 1]], [[2, 3], [3, 2]], [[3, 1, 2], [1, 4, 1]], [[5], [3]], [[2, 2], [1, 1]]];
    for (const [shape, reps] of cases) {
      const n = shape.reduce((a, b) => a * b);
      await compare('Tile', { x: { shape, data: values(n) } }, { reps });
      await compare('Tile', { x: { shape, data: Int32Array.from(values(n, { ints: true })), dtype: 'int32' } }, { reps });
      await compare('Tile', { x: { shape, data: Uint8Array.from(values(n), (v) => (v > 0 ? 1 : 0)), dtype: 'bool' } }, { reps });
    }
  });

  it('Sum and Mean match cpu on leading, other and all axes', async () => {
    const shape = [5, 3, 4, 8];
    const x = { x: { shape, data: values(5 * 3 * 4 * 8) } };
    for (const kernel of ['Sum', 'Mean']) {
      for (const axis of [[0, 1, 2], [0], [1, 0], [2, 3], [0, 1, 2, 3], [-1]]) {
        for (const keepDims of [false, true]) await compare(kernel, x, { axis, keepDims });
      }
      await compare(kernel, { x: { shape: [7, 3], data: values(21) } }, { axis: [0], keepDims: false }); // cols % 4 != 0
    }
    // Long reduction: blocked float32 partial sums must stay as accurate as the cpu's float64 loop.
    const long = { x: { shape: [4096, 8], data: values(4096 * 8) } };
    await compare('Sum', long, { axis: [0], keepDims: false }, 1e-5);
  });
});

describe('FusedBatchNorm', () => {
  it('matches cpu with vector, scalar and missing parameters', async () => {
    const cases: Array<{ x: number[]; p: number[]; scale: boolean; offset: boolean }> = [
      { x: [3, 4, 5, 8], p: [8], scale: true, offset: true }, // SIMD path
      { x: [3, 4, 5, 8], p: [1, 1, 1, 8], scale: false, offset: true },
      { x: [6, 12], p: [12], scale: true, offset: false }, // dense layer batch norm
      { x: [2, 3, 3, 4], p: [1], scale: true, offset: true }, // scalar parameters
      { x: [2, 3, 3, 3], p: [3], scale: true, offset: true }, // C % 4 != 0: stock kernel
    ];
    for (const { x, p, scale, offset } of cases) {
      const xs = values(x.reduce((a, b) => a * b));
      const n = p.reduce((a, b) => a * b);
      const [mean, variance, sc, off] = [values(n), values(n).map((v) => v + 1.5), values(n), values(n)];
      const result = async (backend: 'cpu' | 'wasm') => {
        await tf.setBackend(backend);
        const out = tf.tidy(() => tf.batchNorm(tf.tensor(xs, x), tf.tensor(mean, p), tf.tensor(variance, p),
          offset ? tf.tensor(off, p) : undefined, scale ? tf.tensor(sc, p) : undefined, 1e-3));
        const data = Array.from(await out.data());
        out.dispose();
        return data;
      };
      expectClose(await result('wasm'), await result('cpu'), 1e-5, `batchNorm ${JSON.stringify({ x, p, scale, offset })}`);
    }
  });
});

/** A tiny CNN with every layer kind the seed CNN and ResNet use (conv same/valid/strided, pool, BN, dense). */
function smallNet(seed: number): TF.LayersModel {
  const input = tf.input({ shape: [9, 9, 2] });
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  let y = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }).apply(input) as TF.SymbolicTensor;
  y = tf.layers.maxPooling2d({ poolSize: 2 }).apply(y) as TF.SymbolicTensor;
  const skip = y;
  y = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(2) }).apply(y) as TF.SymbolicTensor;
  y = tf.layers.batchNormalization().apply(y) as TF.SymbolicTensor;
  y = tf.layers.add().apply([y, skip]) as TF.SymbolicTensor;
  y = tf.layers.activation({ activation: 'relu' }).apply(y) as TF.SymbolicTensor;
  y = tf.layers.conv2d({ filters: 8, kernelSize: 2, strides: 2, activation: 'relu', kernelInitializer: init(3) }).apply(y) as TF.SymbolicTensor;
  y = tf.layers.flatten().apply(y) as TF.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(4) }).apply(y) as TF.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

async function oneStep(backend: 'cpu' | 'wasm', xs: Float32Array, ys: Float32Array, n: number) {
  await tf.setBackend(backend);
  const model = smallNet(7);
  const optimizer = tf.train.sgd(0.1);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const [x, y] = [tf.tensor4d(xs, [n, 9, 9, 2]), tf.tensor2d(ys, [n, 3])];
  // Gradients of the loss w.r.t. every trainable weight, then one fit step through the layers API.
  const grads = tf.tidy(() => {
    const { grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as TF.Tensor) as TF.Scalar);
    return model.trainableWeights.map((w) => Array.from(g[w.originalName]!.dataSync()));
  });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- 0 is ModelLoggingVerbosity.SILENT, whose enum tfjs does not export
  await model.fit(x, y, { batchSize: n, epochs: 1, shuffle: false, verbose: 0 });
  const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return { grads, weights };
}

describe('training through the kernels', () => {
  it('gradients and one fit step of a small conv net with batch norm agree with cpu', async () => {
    const n = 6;
    const xs = values(n * 9 * 9 * 2);
    const ys = new Float32Array(n * 3).map((_, i) => (i % 3 === i % 2 ? 1 : 0));
    const want = await oneStep('cpu', xs, ys, n);
    const got = await oneStep('wasm', xs, ys, n);
    expect(got.grads.length).toBe(want.grads.length);
    want.grads.forEach((g, i) => expectClose(got.grads[i]!, g, 1e-4, `gradient ${i}`));
    want.weights.forEach((w, i) => expectClose(got.weights[i]!, w, 1e-4, `weight ${i} after fit`));
  });

  it('keeps tensor count and wasm heap stable across training steps', async () => {
    await tf.setBackend('wasm');
    const model = smallNet(3);
    const optimizer = tf.train.adam(1e-3);
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const x = tf.randomNormal([32, 9, 9, 2]);
    const y = tf.oneHot(tf.randomUniform([32], 0, 3, 'int32') as TF.Tensor1D, 3);
    const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
    for (let i = 0; i < 3; i++) await model.trainOnBatch(x, y);
    const [tensors, bytes] = [tf.memory().numTensors, heap()];
    for (let i = 0; i < 20; i++) await model.trainOnBatch(x, y);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(heap()).toBe(bytes);
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  });
});
