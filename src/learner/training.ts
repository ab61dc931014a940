import * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';
import { Callback, CancelBatchException } from './callback.js';

/**
 * fastai's `GradientAccumulation(n_acc=32)`: steps the optimizer only once `nAcc`
 * samples (not batches) have gone through, with the gradients of all of them added
 * up — training at an effective batch size of `nAcc` on a device that fits less. The
 * loss each batch differentiates is scaled by `bs / nAcc`, so the accumulated
 * gradient is the mean over the `nAcc` samples; the loss logged is the batch's own.
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(5, 1e-3, { cbs: [new GradientAccumulation(64)] });   // bs 16, steps every 4 batches
 * ```
 */
export class GradientAccumulation extends Callback {
  override order = -20;
  override runValid = false;
  private count = 0;

  /** @param nAcc - Samples per optimizer step. Default 32. */
  constructor(readonly nAcc = 32) {
    super();
    if (!(Number.isInteger(nAcc) && nAcc >= 1)) throw new FastvisionError('BAD_OPTION', `GradientAccumulation nAcc must be a whole number of samples ≥ 1, got ${nAcc}`);
  }

  override beforeFit(): void {
    this.count = 0;
  }

  override afterLoss(): void {
    const bs = this.learn.yb!.shape[0]!;
    this.learn.lossGrad = tf.div(this.learn.lossGrad!, this.nAcc / bs) as tf.Scalar;
  }

  override beforeStep(): void {
    this.count += this.learn.yb!.shape[0]!;
    // Skip the step and keep the gradients until enough samples went through.
    if (this.count < this.nAcc) throw new CancelBatchException();
    this.count = 0;
  }
}

/**
 * Clips the gradients' global norm to `maxNorm` before each step (fastai's
 * `GradientClip`, PyTorch's `clip_grad_norm_`): when ‖g‖ > maxNorm every gradient is
 * scaled by `maxNorm / (‖g‖ + 1e-6)`.
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(5, 1e-3, { cbs: [new GradientClip(1)] });
 * ```
 */
export class GradientClip extends Callback {
  override runValid = false;

  /**
   * @param maxNorm - The largest norm let through. Default 1.
   * @param normType - Which norm: 2 (default) or `Infinity`.
   */
  constructor(
    readonly maxNorm = 1,
    readonly normType = 2,
  ) {
    super();
    if (!(maxNorm > 0)) throw new FastvisionError('BAD_OPTION', `GradientClip maxNorm must be > 0, got ${maxNorm}`);
    if (normType !== 2 && normType !== Infinity) throw new FastvisionError('BAD_OPTION', `GradientClip normType must be 2 or Infinity, got ${normType}`);
  }

  override beforeStep(): void {
    const grads = this.learn.grads;
    if (!grads) return;
    const names = Object.keys(grads);
    const clipped = tf.tidy(() => {
      const parts = names.map((k) => grads[k]!);
      const norm = this.normType === Infinity ? tf.max(tf.stack(parts.map((g) => tf.max(tf.abs(g))))) : tf.sqrt(tf.addN(parts.map((g) => tf.sum(tf.square(g)))));
      const coef = tf.minimum(tf.div(this.maxNorm, tf.add(norm, 1e-6)), 1);
      return Object.fromEntries(names.map((k) => [k, tf.mul(grads[k]!, coef)]));
    });
    tf.dispose(Object.values(grads));
    this.learn.grads = clipped;
  }
}
