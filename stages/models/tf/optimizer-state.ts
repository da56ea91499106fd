/**
 * Reads and restores a tfjs optimizer's whole state (checkpoint.ts OptimizerState), bit for bit.
 * getWeights()/setWeights() carry the iteration count and the slots (Adam's moments, momentum's
 * accumulators); Adam also keeps beta1^t and beta2^t in private variables that setWeights does
 * not restore but recomputes (as pow(beta, t + 1), not the product the steps took), so they are
 * read and written here directly.
 */
import type * as TF from '@tensorflow/tfjs';
import type { OptimizerState, ShapedArray } from './checkpoint.js';

/** Adam's private running powers, as tfjs names them (adam_optimizer.ts). */
interface AdamInternals {
  readonly accBeta1: TF.Variable;
  readonly accBeta2: TF.Variable;
}

function adamInternals(optimizer: TF.Optimizer): AdamInternals {
  const internals = optimizer as unknown as Partial<AdamInternals>;
  if (!internals.accBeta1 || !internals.accBeta2) throw new Error('this tfjs Adam has no accBeta1/accBeta2: checkpointing needs updating for its version');
  return internals as AdamInternals;
}

export async function captureOptimizer(optimizer: TF.Optimizer, kind: 'adam' | 'sgd'): Promise<OptimizerState> {
  const [iter, ...slots] = await optimizer.getWeights();
  if (!iter) throw new Error('optimizer.getWeights() returned no iteration count');
  const iterations = (await iter.tensor.data())[0] ?? 0;
  // saveIterations makes a fresh scalar each call.
  iter.tensor.dispose();
  const arrays: ShapedArray[] = [];
  for (const s of slots) arrays.push({ shape: [...s.tensor.shape], values: Float32Array.from(await s.tensor.data()) });
  if (kind === 'sgd') return { kind, iterations, slots: arrays };
  const { accBeta1, accBeta2 } = adamInternals(optimizer);
  return { kind, iterations, accBeta1: (await accBeta1.data())[0] ?? NaN, accBeta2: (await accBeta2.data())[0] ?? NaN, slots: arrays };
}

export async function restoreOptimizer(tf: typeof TF, optimizer: TF.Optimizer, state: OptimizerState, kind: 'adam' | 'sgd'): Promise<void> {
  if (state.kind !== kind) throw new Error(`checkpoint holds ${state.kind} optimizer state, the training uses ${kind}`);
  const tensors = state.slots.map((s, i) => ({ name: `slot${i}`, tensor: tf.tensor(s.values, [...s.shape]) }));
  const iter = { name: 'iter', tensor: tf.scalar(state.iterations, 'int32') };
  await optimizer.setWeights([iter, ...tensors]);
  // setWeights made variables of its own from these (a variable holds its own reference to the data).
  tf.dispose([iter.tensor, ...tensors.map((t) => t.tensor)]);
  if (kind === 'adam') {
    if (state.accBeta1 === undefined || state.accBeta2 === undefined) throw new Error('checkpoint of an adam training lacks accBeta1/accBeta2');
    const { accBeta1, accBeta2 } = adamInternals(optimizer);
    tf.tidy(() => {
      accBeta1.assign(tf.scalar(state.accBeta1 as number));
      accBeta2.assign(tf.scalar(state.accBeta2 as number));
    });
  }
}
