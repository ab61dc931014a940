import * as tf from '../../core/tf.js';
import { FastvisionError } from '../../core/errors.js';
import type { NormStats } from '../normalize.js';
import type { BatchTransform } from './transform.js';

/** fastai's `Normalize` as a batch transform: it carries the stats the loader normalises with. */
export interface NormalizeTransform extends BatchTransform {
  readonly stats: NormStats;
}

function check(stats: NormStats): NormStats {
  const ok = (v: unknown, pos: boolean) => Array.isArray(v) && v.length === 3 && v.every((x) => Number.isFinite(x) && (!pos || x > 0));
  if (!ok(stats?.mean, false) || !ok(stats?.std, true)) {
    throw new FastvisionError('BAD_OPTION', `Normalize needs 3 means and 3 positive standard deviations, got ${JSON.stringify(stats)}`);
  }
  return { mean: [...stats.mean], std: [...stats.std] };
}

/**
 * fastai's `Normalize`: `(x − mean) / std` per channel, the last batch transform
 * (order 99) on both sets. Putting it in `batchTfms` is the same as the `normalize`
 * option; `visionLearner` adds ImageNet's when the body is pretrained and none is given.
 *
 * @example
 * ```ts
 * const dls = await DataLoaders.fromFolder('data', { batchTfms: [...augTransforms(), Normalize.fromStats(imagenetStats)] });
 * ```
 */
export const Normalize = {
  /**
   * A `Normalize` with these stats, as fastai's `Normalize.from_stats(*imagenet_stats)`.
   *
   * @param mean - Per-channel means (of pixels in [0, 1]), or a whole {@link NormStats}.
   * @param std - Per-channel standard deviations, when `mean` is the means.
   * @returns The transform.
   *
   * @example
   * ```ts
   * const norm = Normalize.fromStats([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
   * ```
   */
  fromStats(mean: NormStats | [number, number, number], std?: [number, number, number]): NormalizeTransform {
    const stats = check(Array.isArray(mean) ? { mean, std: std! } : mean);
    return {
      kind: 'batch',
      name: `Normalize(mean ${stats.mean.join(', ')}; std ${stats.std.join(', ')})`,
      order: 99,
      stats,
      isRandom: () => false,
      activeOn: () => true,
      apply: (x) => normalizeTensor(x, stats),
    };
  },
};

/** `(x − mean) / std` on a float batch in [0, 1]. */
export function normalizeTensor(x: tf.Tensor4D, stats: NormStats): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d(stats.mean)), tf.tensor1d(stats.std)));
}

/** True for a transform made by {@link Normalize.fromStats}. */
export const isNormalize = (t: BatchTransform): t is NormalizeTransform => t.order === 99 && 'stats' in t;
