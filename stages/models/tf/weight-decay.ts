/**
 * Decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", the
 * AdamW of PyTorch): after each optimizer step, every weight matrix and convolution kernel is
 * multiplied by (1 - lr * lambda), lr being that step's scheduled rate (PyTorch's convention: the
 * paper scales lambda by the schedule's multiplier alone, so its lambda values do not carry over).
 * PyTorch decays just before the update and this just after it; the two differ by lr² · lambda · update.
 *
 * Why decoupled rather than an L2 term in the loss: with Adam an L2 gradient is divided by the
 * running RMS of the gradients, so weights with large gradients are barely decayed; shrinking the
 * weights outside the optimizer decays them all at the same rate, which is what regularises.
 * Biases and batch-norm scales and offsets (rank-1 variables) are left alone, as in that recipe:
 * decaying them only moves the activations' offsets and scales.
 */
import type * as TF from '@tensorflow/tfjs';

/** Applies one step's decay at learning rate `lr`. */
export type WeightDecayStep = (lr: number) => void;

/**
 * The variables decay applies to: matrices and kernels (rank 2 and up), never biases or batch-norm
 * vectors. Chosen by rank because every weighted layer pipe builds (dense, conv) keeps its kernel at
 * rank 2+ and everything else at rank 1; a layer with a rank-2+ parameter that must not be decayed
 * (an embedding, a PReLU alpha) would need a rule of its own here.
 */
export function decayedVariables(variables: readonly TF.Variable[]): TF.Variable[] {
  return variables.filter((v) => v.rank >= 2);
}

/**
 * The decay step for `variables`, or undefined when `lambda` is 0: a training without decay then runs
 * exactly the operations it ran before the option existed, so its weights keep their bits.
 */
export function decoupledWeightDecay(tf: typeof TF, variables: readonly TF.Variable[], lambda: number): WeightDecayStep | undefined {
  if (!(lambda > 0)) return undefined;
  const decayed = decayedVariables(variables);
  return (lr) => {
    tf.tidy(() => {
      const factor = tf.scalar(1 - lr * lambda);
      for (const v of decayed) v.assign(tf.mul(v, factor));
    });
  };
}
