import * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';

/** Options of {@link createHead}, with fastai's defaults. */
export interface HeadOptions {
  /** Hidden layer sizes. Default `[512]`. */
  linFtrs?: number[];
  /** Dropout: a number p gives p/2 for every layer but the last, p for the last. Default 0.5. */
  ps?: number | number[];
  /** Concatenate global max and average pooling (max first). Default true. */
  concatPool?: boolean;
  /** BatchNorm before the first linear layer. Default true. */
  firstBn?: boolean;
  /** BatchNorm after the last linear layer. Default false. */
  bnFinal?: boolean;
  /**
   * fastai's `y_range`: squash the outputs into `[low, high]` with
   * `sigmoid(x) · (high − low) + low` (fastai's SigmoidRange), for regression targets.
   * Built of standard layers (Activation, Rescaling), so exports stay plain tfjs.
   */
  yRange?: [number, number];
}

/** The options {@link createHead} takes. */
export const headOptionNames: readonly (keyof HeadOptions)[] = ['linFtrs', 'ps', 'concatPool', 'firstBn', 'bnFinal', 'yRange'];

/**
 * fastai's `create_head` applied to a body's output: pool (max ‖ avg) → flatten →
 * [BatchNorm → Dropout → Dense (no bias, as BatchNorm precedes it) → ReLU]… →
 * BatchNorm → Dropout → Dense(nOut). Dense kernels are Kaiming-normal, BatchNorm
 * weights 1 and biases 1e-3, as fastai initialises them. Layers are named `head_*`.
 *
 * @param features - The body's output (a symbolic `[batch, h, w, nf]` tensor).
 * @param nOut - Number of classes.
 * @param opts - fastai's head options; defaults as fastai's `create_head`.
 * @returns The logits, `[batch, nOut]`.
 *
 * @example
 * ```ts
 * const body = await bodyFromArch('resnet18');
 * const logits = createHead(body.model.outputs[0]!, 2);
 * const model = tf.model({ inputs: body.model.inputs, outputs: logits });
 * ```
 */
export function createHead(features: tf.SymbolicTensor, nOut: number, opts: HeadOptions = {}): tf.SymbolicTensor {
  const { linFtrs = [512], ps = 0.5, concatPool = true, firstBn = true, bnFinal = false } = opts;
  const unknown = Object.keys(opts).filter((k) => !headOptionNames.includes(k as keyof HeadOptions));
  if (unknown.length) throw new FastvisionError('BAD_OPTION', `createHead does not know the option(s) ${unknown.join(', ')}; it takes ${headOptionNames.join(', ')}`);
  const nf = features.shape[features.shape.length - 1];
  if (nf == null) throw new FastvisionError('BAD_OPTION', 'fastvision: createHead needs a body output with a known channel count');
  const sizes = [concatPool ? 2 * nf : nf, ...linFtrs, nOut];
  const drops = Array.isArray(ps) ? ps : [...Array<number>(sizes.length - 2).fill(ps / 2), ps];
  if (drops.length !== sizes.length - 1) throw new FastvisionError('BAD_OPTION', `fastvision: ps has ${drops.length} values for ${sizes.length - 1} linear layers`);
  let x: tf.SymbolicTensor;
  if (concatPool) {
    const max = tf.layers.globalMaxPooling2d({ name: 'head_pool_max' }).apply(features) as tf.SymbolicTensor;
    const avg = tf.layers.globalAveragePooling2d({ name: 'head_pool_avg' }).apply(features) as tf.SymbolicTensor;
    x = tf.layers.concatenate({ name: 'head_pool' }).apply([max, avg]) as tf.SymbolicTensor;
  } else {
    x = tf.layers.globalAveragePooling2d({ name: 'head_pool' }).apply(features) as tf.SymbolicTensor;
  }
  for (let i = 0; i < sizes.length - 1; i++) {
    const last = i === sizes.length - 2;
    const bn = i > 0 || firstBn;
    if (bn) x = batchNorm(x, `head_bn${i}`);
    if (drops[i]! > 0) x = tf.layers.dropout({ rate: drops[i]!, name: `head_drop${i}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers
      .dense({
        units: sizes[i + 1]!,
        useBias: !bn,
        // PyTorch's kaiming_normal_: an untruncated normal with std √(2 / fan_in).
        kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: Math.sqrt(2 / sizes[i]!) }),
        biasInitializer: 'zeros',
        name: `head_linear${i}`,
      })
      .apply(x) as tf.SymbolicTensor;
    if (!last) x = tf.layers.reLU({ name: `head_relu${i}` }).apply(x) as tf.SymbolicTensor;
  }
  // fastai's bn_final: BatchNorm1d(n_out, momentum=0.01); Keras counts momentum the other way.
  if (bnFinal) x = batchNorm(x, 'head_bn_final', 0.99);
  if (opts.yRange) {
    const [low, high] = opts.yRange;
    if (!(Number.isFinite(low) && Number.isFinite(high) && high > low)) throw new FastvisionError('BAD_OPTION', `yRange must be [low, high] with low < high, got ${JSON.stringify(opts.yRange)}`);
    x = tf.layers.activation({ activation: 'sigmoid', name: 'head_sigmoid' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.rescaling({ scale: high - low, offset: low, name: 'head_range' }).apply(x) as tf.SymbolicTensor;
  }
  return x;
}

function batchNorm(x: tf.SymbolicTensor, name: string, momentum = 0.9): tf.SymbolicTensor {
  return tf.layers
    .batchNormalization({ epsilon: 1e-5, momentum, gammaInitializer: 'ones', betaInitializer: tf.initializers.constant({ value: 1e-3 }), name })
    .apply(x) as tf.SymbolicTensor;
}
