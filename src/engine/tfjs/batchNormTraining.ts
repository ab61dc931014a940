import * as tf from '../../core/tf.js';
import { capabilities } from '../capabilities.js';
import { channelMoments, normalize, normalizeBackward } from './batchNormKernels.js';
import { hostCompute } from './hostCompute.js';
import { overrideTraining } from './layerOverrides.js';
import { type BatchNormFields } from './privateFields.js';

/**
 * Training-mode BatchNorm as one differentiable op with a hand-written gradient.
 *
 * tfjs-layers builds it from `moments` + `batchNorm`, whose gradients take ~15
 * full-size ops (one a `Tile` of the whole activation). Here the backward pass is the
 * textbook formula. On wasm and cpu, where the data is in this process, it runs as
 * fused loops (`batchNormKernels.ts`): two passes forward, two backward. On device
 * backends (tfjs-node, GPUs) it is 4 full-size ops and 2 of the backend's own
 * reductions per pass, with every per-channel affine map one `FusedBatchNorm` kernel
 * and nothing allocated beyond the results.
 */

interface Moments {
  y: tf.Tensor;
  /** Batch mean and biased variance per channel, for the running averages. The caller disposes them. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Every axis but the last: the axes a channels-last BatchNorm reduces over. */
const batchAxes = (x: tf.Tensor) => Array.from({ length: x.rank - 1 }, (_, i) => i);

/** `x · scale + offset` per channel, in one kernel (variance 0 with epsilon 1 makes the rsqrt exactly 1). */
function affine(x: tf.Tensor, scale: tf.Tensor1D, offset?: tf.Tensor1D): tf.Tensor {
  const zeros = tf.zerosLike(scale);
  return tf.batchNorm(x, zeros, zeros, offset, scale, 1);
}

/** Forward and backward passes of one implementation, on tensors. */
interface Passes {
  moments(x: tf.Tensor): [tf.Tensor1D, tf.Tensor1D];
  normalize(x: tf.Tensor, mean: tf.Tensor1D, variance: tf.Tensor1D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor;
  backward(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor1D, variance: tf.Tensor1D, gamma: tf.Tensor1D, eps: number): [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
}

const channels = (x: tf.Tensor) => x.shape[x.rank - 1]!;

/** Fused loops over the tensors' memory: on wasm and cpu, where data is in this process. */
const hostPasses: Passes = {
  moments: (x) => {
    const c = channels(x);
    return hostCompute([x], [[c], [c]], ([xv], [mv, vv]) => channelMoments(xv!, c, mv!, vv!)) as [tf.Tensor1D, tf.Tensor1D];
  },
  normalize: (x, mean, variance, gamma, beta, eps) =>
    hostCompute([x, mean, variance, gamma, beta], [x.shape], ([xv, mv, vv, gv, bv], [yv]) => normalize(xv!, mv!, vv!, gv!, bv!, eps, yv!))[0]!,
  backward: (dy, x, mean, variance, gamma, eps) => {
    const c = channels(x);
    const out = hostCompute([dy, x, mean, variance, gamma], [x.shape, [c], [c]], ([g, xv, mv, vv, gv], [dx, dGamma, dBeta]) =>
      normalizeBackward(g!, xv!, mv!, vv!, gv!, eps, dx!, dGamma!, dBeta!),
    );
    return out as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
  },
};

/** tfjs ops, for backends whose data lives on a device (tfjs-node, GPUs). */
const opPasses: Passes = {
  moments: (x) => {
    const mean = tf.mean(x, batchAxes(x)) as tf.Tensor1D;
    return [mean, tf.mean(tf.square(tf.sub(x, mean)), batchAxes(x)) as tf.Tensor1D];
  },
  normalize: (x, mean, variance, gamma, beta, eps) => tf.batchNorm(x, mean, variance, beta, gamma, eps),
  backward: (dy, x, mean, variance, gamma, eps) => {
    const m = x.size / channels(x);
    const xhat = tf.batchNorm(x, mean, variance, undefined, undefined, eps);
    const dBeta = tf.sum(dy, batchAxes(dy)) as tf.Tensor1D;
    const dGamma = tf.sum(tf.mul(dy, xhat), batchAxes(dy)) as tf.Tensor1D;
    const a = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps))) as tf.Tensor1D;
    const aOverM = tf.div(a, -m);
    const dx = tf.add(affine(dy, a), affine(xhat, tf.mul(aOverM, dGamma) as tf.Tensor1D, tf.mul(aOverM, dBeta) as tf.Tensor1D));
    return [dx, dGamma, dBeta];
  },
};

/**
 * `y = γ·(x − μ)/√(σ² + ε) + β` with μ, σ² the batch statistics over every axis but
 * the last, and its gradient with respect to `x`, `gamma` and `beta`:
 * dβ = Σdy, dγ = Σdy·x̂, dx = γ/√(σ²+ε) · (dy − dβ/M − x̂·dγ/M).
 * `host` picks the fused loops (default: on wasm and cpu) or tfjs ops.
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number, host = capabilities().hostMemory): Moments {
  const passes = host ? hostPasses : opPasses;
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  const op = tf.customGrad((xIn, g, b, save) => {
    const [input, scale, offset] = [xIn, g, b] as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const [mu, v] = passes.moments(input);
    // Escape the op's scope: the layer updates its running averages with these.
    mean = tf.keep(mu);
    variance = tf.keep(v);
    (save as tf.GradSaveFunc)([input, mu, v, scale]);
    return {
      value: passes.normalize(input, mu, v, scale, offset, epsilon),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, mu, v, scale] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        return passes.backward(dy, xs, mu, v, scale, epsilon);
      },
    };
  });
  const y = op(x, gamma, beta);
  return { y, mean, variance };
}

/**
 * Makes the model's BatchNorm layers (channels-last, with γ and β, as in every
 * fastvision architecture and Keras application) train through
 * {@link batchNormTraining}. Inference, the weights, the running-average update and
 * the saved model are unchanged. Idempotent; returns how many layers it switched.
 */
export function useFastBatchNorm(model: tf.LayersModel): number {
  type Bn = tf.layers.Layer & BatchNormFields;
  return overrideTraining<Bn>(
    model,
    'BatchNormalization',
    (bn) => bn.center && bn.scale,
    (bn, x) => {
      if (bn.axis !== -1 && bn.axis !== x.rank - 1) return undefined;
      return tf.tidy(() => {
        const { y, mean, variance } = batchNormTraining(x, bn.gamma!.read() as tf.Tensor1D, bn.beta!.read() as tf.Tensor1D, bn.epsilon);
        // Keras's running averages: v ← v − (v − batch)·(1 − momentum).
        for (const [variable, value] of [[bn.movingMean, mean], [bn.movingVariance, variance]] as const) {
          const old = variable.read();
          variable.write(tf.sub(old, tf.mul(tf.sub(old, value), 1 - bn.momentum)));
        }
        tf.dispose([mean, variance]);
        return y;
      });
    },
  );
}
