/**
 * Small WebAssembly SIMD routines that work in place on the tfjs wasm heap.
 *
 * Why: the remaining hot spots of wasm training after moving the convolutions onto XNNPACK were
 * memory-bound loops the stock backend implements poorly and JS cannot vectorise: MaxPoolGrad (~15% of a
 * seed-CNN step even as a tuned JS loop), the leading-axis Sum of bias/batch-norm gradients, a 2-D
 * transpose that the stock Transpose runs at ~3 ns/element, and batch norm's per-channel scale-and-shift
 * (the stock FusedBatchNorm took ~9 ns/element). tfjs-backend-wasm exposes no way to add C++
 * kernels, but it does expose its WebAssembly.Memory, so we instantiate a tiny module that imports that
 * memory. There is no wasm toolchain in the dependencies, hence the few-opcode assembler below; each
 * routine is checked against the cpu backend in test/tf/kernels.test.ts.
 *
 * All pointers are byte offsets into the heap; callers guarantee the channel / column counts are multiples
 * of 4 (one f32x4 lane group) and fall back to JS or stock kernels otherwise.
 */

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => vec(Array.from(s, (ch) => [ch.charCodeAt(0)])); // ASCII import names
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Instruction helpers (opcodes from the WebAssembly core + SIMD specs). */
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const add = [0x6a];
const sub = [0x6b];
const mul = [0x6c];
const geS = [0x4e];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const vload = simd(0x00, 0, 0); // v128.load align=1 offset=0
const vstore = simd(0x0b, 0, 0);
const vnot = simd(0x4d);
const vand = simd(0x4e);
const vandnot = simd(0x4f); // a & ~b
const vor = simd(0x50);
const bitselect = simd(0x52); // (a & c) | (b & ~c)
const f32x4Gt = simd(0x44);
const vzero = simd(0x0c, ...new Array<number>(16).fill(0)); // v128.const 0
const vsigns = simd(0x0c, ...[0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0x80]); // f32 sign bits
const f32x4Add = simd(0xe4);
const f32x4Sub = simd(0xe5);
const f32x4Mul = simd(0xe6);
const shuffle = (lanes: number[]) => simd(0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));

/** `for (counter = 0; counter < limit; counter++) body` where limit is a local. */
function loop(counter: number, limit: number, body: number[]): number[] {
  return [
    ...i32(0), ...set(counter),
    0x02, 0x40, 0x03, 0x40, // block { loop {
    ...get(counter), ...get(limit), ...geS, 0x0d, 1, // if (counter >= limit) break
    ...body,
    ...get(counter), ...i32(1), ...add, ...set(counter),
    0x0c, 0, 0x0b, 0x0b, // continue } }
  ];
}

/** `local += value` */
const bump = (local: number, value: number[]) => [...get(local), ...value, ...add, ...set(local)];

interface Fn { name: string; params: number; i32Locals: number; v128Locals: number; body: number[] }

/**
 * maxPoolGrad2x2(x, dy, dx, n, h, w, c, oh, ow): 2x2 windows, stride 2, no padding. For every window the
 * gradient goes to the first maximum in row-major order (strict >, as the cpu backend does); the other
 * three positions get 0. Rows/columns outside every window are left untouched (caller zero-fills).
 */
function maxPoolGrad2x2(): Fn {
  // params 0..8: x dy dx n h w c oh ow; i32 locals 9..; v128 locals after.
  const [X, DY, DX, N, H, W, C, OH, OW] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [ROW, CB, B, OY, OX, P, Q, K, DELTA, C4] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const [VA, VB, VC, VD, G, BEST, MB, MC, MD] = [19, 20, 21, 22, 23, 24, 25, 26, 27];
  const load = (ptr: number[], into: number) => [...ptr, ...vload, ...set(into)];
  const store = (ptr: number[], mask: number[]) => [...ptr, ...get(G), ...mask, ...vand, ...vstore];
  const q = get(Q);
  const qB = [...get(Q), ...get(CB), ...add];
  const qR = [...get(Q), ...get(ROW), ...add];
  const qRB = [...get(Q), ...get(ROW), ...add, ...get(CB), ...add];
  const dxAt = (p: number[]) => [...p, ...get(DELTA), ...add];
  const channelBody = [
    ...load(q, VA), ...load(qB, VB), ...load(qR, VC), ...load(qRB, VD),
    ...get(DY), ...vload, ...set(G), ...bump(DY, i32(16)),
    ...get(VB), ...get(VA), ...f32x4Gt, ...tee(MB), ...get(VB), ...get(VA), ...get(MB), ...bitselect, ...set(BEST),
    ...get(VC), ...get(BEST), ...f32x4Gt, ...tee(MC), ...get(VC), ...get(BEST), ...get(MC), ...bitselect, ...set(BEST),
    ...get(VD), ...get(BEST), ...f32x4Gt, ...set(MD),
    ...store(dxAt(q), [...get(MB), ...get(MC), ...vor, ...get(MD), ...vor, ...vnot]),
    ...store(dxAt(qB), [...get(MB), ...get(MC), ...vandnot, ...get(MD), ...vandnot]),
    ...store(dxAt(qR), [...get(MC), ...get(MD), ...vandnot]),
    ...store(dxAt(qRB), get(MD)),
    ...bump(Q, i32(16)),
  ];
  const body = [
    ...get(W), ...get(C), ...mul, ...i32(4), ...mul, ...set(ROW),
    ...get(C), ...i32(4), ...mul, ...set(CB),
    ...get(C), ...i32(4), 0x6d /* i32.div_s */, ...set(C4),
    ...get(DX), ...get(X), ...sub, ...set(DELTA),
    ...loop(B, N, loop(OY, OH, [
      // P = x + (b*h + 2*oy) * rowBytes
      ...get(X), ...get(B), ...get(H), ...mul, ...get(OY), ...i32(2), ...mul, ...add, ...get(ROW), ...mul, ...add, ...set(P),
      ...loop(OX, OW, [
        ...get(P), ...set(Q),
        ...loop(K, C4, channelBody),
        ...bump(P, [...get(CB), ...i32(2), ...mul]),
      ]),
    ])),
  ];
  return { name: 'maxPoolGrad2x2', params: 9, i32Locals: 10, v128Locals: 9, body };
}

/** sumRows(x, out, rows, cols): out[c] += sum over r of x[r, c] (out must start zeroed). */
function sumRows(): Fn {
  const [X, OUT, ROWS, COLS] = [0, 1, 2, 3];
  const [R, K, C4, P, O] = [4, 5, 6, 7, 8];
  const body = [
    ...get(COLS), ...i32(4), 0x6d, ...set(C4),
    ...get(X), ...set(P),
    ...loop(R, ROWS, [
      ...get(OUT), ...set(O),
      ...loop(K, C4, [
        ...get(O), ...get(O), ...vload, ...get(P), ...vload, ...f32x4Add, ...vstore,
        ...bump(O, i32(16)), ...bump(P, i32(16)),
      ]),
    ]),
  ];
  return { name: 'sumRows', params: 4, i32Locals: 5, v128Locals: 0, body };
}

/** affineRows(x, ab, out, rows, cols): out[r, c] = x[r, c] * ab[c] + ab[cols + c] (per-channel scale, shift). */
function affineRows(): Fn {
  const [X, AB, OUT, ROWS, COLS] = [0, 1, 2, 3, 4];
  const [R, K, C4, A, B] = [5, 6, 7, 8, 9];
  const body = [
    ...get(COLS), ...i32(4), 0x6d, ...set(C4),
    ...loop(R, ROWS, [
      ...get(AB), ...set(A),
      ...get(AB), ...get(COLS), ...i32(4), ...mul, ...add, ...set(B),
      ...loop(K, C4, [
        ...get(OUT), ...get(X), ...vload, ...get(A), ...vload, ...f32x4Mul, ...get(B), ...vload, ...f32x4Add, ...vstore,
        ...bump(X, i32(16)), ...bump(OUT, i32(16)), ...bump(A, i32(16)), ...bump(B, i32(16)),
      ]),
    ]),
  ];
  return { name: 'affineRows', params: 5, i32Locals: 5, v128Locals: 0, body };
}

/**
 * reluGrad(x, dy, dx, groups): dx[i] = x[i] > 0 ? dy[i] : dy[i] * 0 for 4·groups floats, in one pass.
 * `dy * 0` keeps dy's sign on the zero (as tfjs' mul(dy, step(x)) does), so results match bit for bit.
 */
function reluGrad(): Fn {
  const [X, DY, DX, GROUPS] = [0, 1, 2, 3];
  const [K] = [4];
  const [G] = [5];
  const body = loop(K, GROUPS, [
    ...get(DX),
    ...get(DY), ...vload, ...tee(G), // a = dy
    ...get(G), ...vsigns, ...vand, // b = ±0 with dy's sign
    ...get(X), ...vload, ...vzero, ...f32x4Gt, // mask = x > 0
    ...bitselect, ...vstore,
    ...bump(X, i32(16)), ...bump(DY, i32(16)), ...bump(DX, i32(16)),
  ]);
  return { name: 'reluGrad', params: 4, i32Locals: 1, v128Locals: 1, body };
}

/**
 * batchNormGrad(x, dy, dx, coef, partial, rows, cols): FusedBatchNorm's gradient for `rows` rows of
 * `cols` channels in one pass, the same float32 operations in the same order as tfjs' composite formula
 * (FusedBatchNorm_grad.js), so results match it bit for bit. coef holds five per-channel vectors
 * [mean | r | scale | -r | -r³/2], r = 1/sqrt(variance + eps). Per element, with xm = x - mean:
 *   dx = (dy·r)·scale, and added into the four partial rows [4, cols]:
 *   (-r)·(dy·scale), (-r³/2·xm)·(dy·scale), dy·(xm·r), dy
 * (the mean, variance, scale and offset gradients before the sum over rows). Partials are added row by
 * row, as sumRows adds (the caller sums blocks of rows the way the Sum kernel does).
 */
function batchNormGrad(): Fn {
  const [X, DY, DX, COEF, PART, ROWS, COLS] = [0, 1, 2, 3, 4, 5, 6];
  const [R, K, C4, CB, J] = [7, 8, 9, 10, 11];
  const [VX, VDY, VXM, VDYS, VR] = [12, 13, 14, 15, 16];
  const at = (base: number, vectors: number) => [...get(base), ...get(CB), ...i32(vectors), ...mul, ...add, ...get(J), ...add];
  const coef = (v: number) => [...at(COEF, v), ...vload];
  const accumulate = (row: number, value: number[]) => [...at(PART, row), ...at(PART, row), ...vload, ...value, ...f32x4Add, ...vstore];
  const channelGroup = [
    ...get(X), ...vload, ...set(VX),
    ...get(DY), ...vload, ...set(VDY),
    ...get(VX), ...coef(0), ...f32x4Sub, ...set(VXM),
    ...get(VDY), ...coef(2), ...f32x4Mul, ...set(VDYS),
    ...coef(1), ...set(VR),
    ...get(DX), ...get(VDY), ...get(VR), ...f32x4Mul, ...coef(2), ...f32x4Mul, ...vstore,
    ...accumulate(0, [...coef(3), ...get(VDYS), ...f32x4Mul]),
    ...accumulate(1, [...coef(4), ...get(VXM), ...f32x4Mul, ...get(VDYS), ...f32x4Mul]),
    ...accumulate(2, [...get(VDY), ...get(VXM), ...get(VR), ...f32x4Mul, ...f32x4Mul]),
    ...accumulate(3, get(VDY)),
    ...bump(X, i32(16)), ...bump(DY, i32(16)), ...bump(DX, i32(16)), ...bump(J, i32(16)),
  ];
  const body = [
    ...get(COLS), ...i32(4), 0x6d, ...set(C4),
    ...get(COLS), ...i32(4), ...mul, ...set(CB),
    ...loop(R, ROWS, [...i32(0), ...set(J), ...loop(K, C4, channelGroup)]),
  ];
  return { name: 'batchNormGrad', params: 7, i32Locals: 5, v128Locals: 5, body };
}

/** transpose4(src, dst, rows, cols): dst[c, r] = src[r, c] for 4-byte elements, in 4x4 register blocks. */
function transpose4(): Fn {
  const [SRC, DST, ROWS, COLS] = [0, 1, 2, 3];
  const [R4, K, NR4, NC4, RS, DS, S, D] = [4, 5, 6, 7, 8, 9, 10, 11];
  const [A, B, C, E, T0, T1, T2, T3] = [12, 13, 14, 15, 16, 17, 18, 19];
  const row = (i: number) => [...get(S), ...get(RS), ...i32(i), ...mul, ...add, ...vload];
  const out = (i: number, v: number[]) => [...get(D), ...get(DS), ...i32(i), ...mul, ...add, ...v, ...vstore];
  const body = [
    ...get(ROWS), ...i32(4), 0x6d, ...set(NR4),
    ...get(COLS), ...i32(4), 0x6d, ...set(NC4),
    ...get(COLS), ...i32(4), ...mul, ...set(RS), // src row bytes
    ...get(ROWS), ...i32(4), ...mul, ...set(DS), // dst row bytes
    ...loop(R4, NR4, [
      ...get(SRC), ...get(R4), ...get(RS), ...mul, ...i32(4), ...mul, ...add, ...set(S),
      ...get(DST), ...get(R4), ...i32(16), ...mul, ...add, ...set(D),
      ...loop(K, NC4, [
        ...row(0), ...set(A), ...row(1), ...set(B), ...row(2), ...set(C), ...row(3), ...set(E),
        ...get(A), ...get(B), ...shuffle([0, 4, 1, 5]), ...set(T0),
        ...get(A), ...get(B), ...shuffle([2, 6, 3, 7]), ...set(T1),
        ...get(C), ...get(E), ...shuffle([0, 4, 1, 5]), ...set(T2),
        ...get(C), ...get(E), ...shuffle([2, 6, 3, 7]), ...set(T3),
        ...out(0, [...get(T0), ...get(T2), ...shuffle([0, 1, 4, 5])]),
        ...out(1, [...get(T0), ...get(T2), ...shuffle([2, 3, 6, 7])]),
        ...out(2, [...get(T1), ...get(T3), ...shuffle([0, 1, 4, 5])]),
        ...out(3, [...get(T1), ...get(T3), ...shuffle([2, 3, 6, 7])]),
        ...bump(S, i32(16)),
        ...bump(D, [...get(DS), ...i32(4), ...mul]),
      ]),
    ]),
  ];
  return { name: 'transpose4', params: 4, i32Locals: 8, v128Locals: 8, body };
}

function assemble(fns: Fn[], shared: boolean): Uint8Array<ArrayBuffer> {
  const types = fns.map((f) => [0x60, ...vec(Array.from({ length: f.params }, () => [I32])), 0]);
  const memLimits = shared ? [0x03, 0, ...uleb(65536)] : [0x00, 0];
  const imports = vec([[...str('env'), ...str('memory'), 0x02, ...memLimits]]);
  const codes = fns.map((f) => {
    const locals = vec([[...uleb(f.i32Locals), I32], [...uleb(f.v128Locals), V128]]);
    const fn = [...locals, ...f.body, 0x0b];
    return [...uleb(fn.length), ...fn];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(codes)),
  ]);
}

export interface SimdRoutines {
  maxPoolGrad2x2(x: number, dy: number, dx: number, n: number, h: number, w: number, c: number, oh: number, ow: number): void;
  sumRows(x: number, out: number, rows: number, cols: number): void;
  transpose4(src: number, dst: number, rows: number, cols: number): void;
  affineRows(x: number, ab: number, out: number, rows: number, cols: number): void;
  reluGrad(x: number, dy: number, dx: number, groups: number): void;
  batchNormGrad(x: number, dy: number, dx: number, coef: number, partial: number, rows: number, cols: number): void;
}

const cache = new WeakMap<object, SimdRoutines | null>();

/** The routines bound to this backend's heap, or null where WebAssembly SIMD or the heap is unavailable. */
export function simdRoutines(wasmModule: object): SimdRoutines | null {
  if (cache.has(wasmModule)) return cache.get(wasmModule)!;
  let routines: SimdRoutines | null = null;
  try {
    const memory = (wasmModule as { asm?: { memory?: unknown } }).asm?.memory;
    if (memory instanceof WebAssembly.Memory) {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const bytes = assemble([maxPoolGrad2x2(), sumRows(), transpose4(), affineRows(), reluGrad(), batchNormGrad()], shared);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      routines = instance.exports as unknown as SimdRoutines;
    }
  } catch {
    routines = null; // no SIMD (old engine): callers use their JS paths
  }
  cache.set(wasmModule, routines);
  return routines;
}
