import * as tf from '../../core/tf.js';
import { FastvisionError } from '../../core/errors.js';
import { maybe, uniform, type BatchTransform, type Rng } from './transform.js';

/** Options of {@link lightingTransform}, with fastai's defaults. */
export interface LightingOptions {
  /** Largest change of brightness and contrast. Default 0.2. */
  maxLighting?: number;
  /** Probability of each of brightness and contrast per image. Default 0.75. */
  pLighting?: number;
}

/** fastai's `logit`, clamped as it clamps: `x` in [1e-7, 1 − 1e-7]. */
export const logit = (x: number) => {
  const c = Math.min(Math.max(x, 1e-7), 1 - 1e-7);
  return -Math.log(1 / c - 1);
};

/**
 * One image's brightness and contrast draws (fastai's `Brightness` and `Contrast`): brightness
 * `b ~ U(0.5(1−m), 0.5(1+m))` with probability `p`, else 0.5; contrast
 * `c = exp(U(log(1−m), −log(1−m)))` with probability `p`, else 1.
 */
export function lightingDraws(n: number, m: number, p: number, rng: Rng): { brightness: number[]; contrast: number[] } {
  const brightness = Array.from({ length: n }, () => maybe(rng, p, () => uniform(rng, 0.5 * (1 - m), 0.5 * (1 + m)), 0.5));
  const contrast = Array.from({ length: n }, () => maybe(rng, p, () => Math.exp(uniform(rng, Math.log(1 - m), -Math.log(1 - m))), 1));
  return { brightness, contrast };
}

/**
 * fastai's lighting augmentation (`Brightness` then `Contrast`, merged into one
 * `LightingTfm` as `aug_transforms` does): in logit space,
 * `x' = sigmoid((logit(x) + logit(b)) · c)`, per image, on training batches only.
 *
 * @param opts - `maxLighting` (default 0.2) and `pLighting` (default 0.75).
 *
 * @example
 * ```ts
 * const dls = await DataLoaders.fromCsv('labels.csv', { batchTfms: [lightingTransform({ maxLighting: 0.2 })] });
 * ```
 */
export function lightingTransform(opts: LightingOptions = {}): BatchTransform & { readonly options: Required<LightingOptions> } {
  const { maxLighting: m = 0.2, pLighting: p = 0.75 } = opts;
  if (!(m >= 0 && m < 1)) throw new FastvisionError('BAD_OPTION', `maxLighting must be in [0, 1), got ${m}`);
  if (!(p >= 0 && p <= 1)) throw new FastvisionError('BAD_OPTION', `pLighting must be in [0, 1], got ${p}`);
  return {
    kind: 'batch',
    options: { maxLighting: m, pLighting: p },
    name: `Lighting(maxLighting ${m}, p ${p})`,
    order: 40,
    isRandom: (split) => split === 'train',
    activeOn: (split) => split === 'train',
    apply: (x, _split, rng) => {
      const n = x.shape[0];
      const { brightness, contrast } = lightingDraws(n, m, p, rng);
      return tf.tidy(() => {
        const shift = tf.tensor4d(brightness.map(logit), [n, 1, 1, 1]);
        const scale = tf.tensor4d(contrast, [n, 1, 1, 1]);
        const lx = tf.neg(tf.log(tf.sub(tf.reciprocal(tf.clipByValue(x, 1e-7, 1 - 1e-7)), 1)));
        return tf.sigmoid(tf.mul(tf.add(lx, shift), scale)) as tf.Tensor4D;
      });
    },
  };
}
