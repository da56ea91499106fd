/**
 * Small helpers shared by the wasm training kernels.
 *
 * Kernels here call other wasm kernels directly (kernelFunc with TensorInfos), not through tf ops:
 * ops called inside a kernel would be recorded on the gradient tape and tracked by the engine,
 * while direct kernel calls return bare TensorInfos that we free ourselves with `disposeData`.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataType, GradConfig, KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';

/** The part of tfjs-backend-wasm's BackendWasm these kernels rely on (its own typings pull in emscripten types). */
export interface WasmBackend {
  wasm: { HEAPF32: Float32Array; HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

type Kernel = (args: { inputs: NamedTensorInfoMap; attrs?: NamedAttrMap; backend: WasmBackend }) => TensorInfo | TensorInfo[];

/** Marks kernelFuncs registered by this module, so re-registration can tell ours from the stock ones. */
export const OUR_KERNEL = Symbol.for('pipe.wasmTrainingKernel');

/**
 * Stock wasm kernels, captured before we override any of them: an override (e.g. BatchMatMul) must
 * still reach the original implementation, and the registry only holds the newest config.
 */
const stock = new Map<string, KernelConfig>();

export function rememberStockKernel(name: string): void {
  if (stock.has(name)) return;
  const config = tf.getKernel(name, 'wasm');
  if (config && !(OUR_KERNEL in config.kernelFunc)) stock.set(name, config);
}

export function stockKernel(name: string): KernelConfig {
  rememberStockKernel(name);
  const config = stock.get(name);
  if (!config) throw new Error(`wasm kernel ${name} is not registered (import @tensorflow/tfjs-backend-wasm first)`);
  return config;
}

/** Runs a stock wasm kernel and returns its single output. */
export function run(name: string, backend: WasmBackend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  const out = (stockKernel(name).kernelFunc as unknown as Kernel)({ inputs, attrs, backend });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned ${out.length} outputs, expected one`);
  return out;
}

export function free(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** Byte offset of a tensor's data on the wasm heap. */
export function heapOffset(backend: WasmBackend, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (!data) throw new Error('tensor is not on the wasm backend');
  return data.memoryOffset;
}

/** A Float32Array over a tensor's bytes on the wasm heap. Re-fetch after any allocation: growth detaches views. */
export function heapF32(backend: WasmBackend, info: TensorInfo): Float32Array {
  return new Float32Array(backend.wasm.HEAPF32.buffer, heapOffset(backend, info), tf.util.sizeFromShape(info.shape));
}

export function transpose(backend: WasmBackend, x: TensorInfo, perm: number[]): TensorInfo {
  return run('Transpose', backend, { x }, { perm });
}

/** Tags a kernelFunc as ours (see OUR_KERNEL). */
export function ours(fn: (args: { inputs: NamedTensorInfoMap; attrs: NamedAttrMap; backend: WasmBackend }) => TensorInfo | TensorInfo[]): KernelFunc {
  Object.defineProperty(fn, OUR_KERNEL, { value: true });
  return fn as unknown as KernelFunc;
}

export function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** Marks gradient configs registered by overrideGradient; its value is tfjs' own config, kept as the fallback. */
const STOCK_GRADIENT = Symbol.for('pipe.stockGradient');
type Marked = GradConfig & { [STOCK_GRADIENT]?: GradConfig };

/**
 * Registers our gradient for `kernelName`, keeping tfjs' own one (stockGradient) for the cases ours does
 * not take. Idempotent, also across copies of this module: the stock config travels on ours.
 */
export function overrideGradient(kernelName: string, inputsToSave: string[], gradFunc: GradConfig['gradFunc']): void {
  const current = tf.getGradient(kernelName) as Marked | undefined;
  if (current?.[STOCK_GRADIENT]) return;
  if (!current) throw new Error(`tfjs registers no ${kernelName} gradient to replace`);
  const config: GradConfig = { kernelName, inputsToSave, gradFunc };
  Object.defineProperty(config, STOCK_GRADIENT, { value: current });
  tf.registerGradient(config);
}

/** tfjs' own gradient config for `kernelName`, whether or not ours replaced it. */
export function stockGradient(kernelName: string): GradConfig {
  const current = tf.getGradient(kernelName) as Marked | undefined;
  const stock = current?.[STOCK_GRADIENT] ?? current;
  if (!stock) throw new Error(`tfjs registers no ${kernelName} gradient`);
  return stock;
}
