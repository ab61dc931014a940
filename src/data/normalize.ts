import * as tf from '@tensorflow/tfjs';

/** Per-channel mean and standard deviation of pixels scaled to [0, 1], as fastai's stats tuples. */
export interface NormStats {
  mean: [number, number, number];
  std: [number, number, number];
}

/** ImageNet's statistics, fastai's `imagenet_stats`: what pretrained bodies expect. */
export const imagenetStats: NormStats = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * uint8 pixels (NHWC) → float32 `(x/255 − mean)/std`, or `x/255` without stats
 * (fastai's `IntToFloatTensor` then `Normalize`). One multiply and one add per pixel.
 */
export function normalizePixels(pixels: Uint8Array, shape: [number, number, number, number], stats?: NormStats): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(pixels), shape);
    const scale = stats ? stats.std.map((s) => 1 / (255 * s)) : [1 / 255, 1 / 255, 1 / 255];
    const shift = stats ? stats.mean.map((m, c) => -m / stats.std[c]!) : [0, 0, 0];
    return tf.add(tf.mul(x, tf.tensor1d(scale)), tf.tensor1d(shift));
  });
}

/** The inverse, for showing a batch: normalised float32 NHWC → uint8 pixels (rounded, clipped). */
export async function denormalizePixels(x: tf.Tensor4D, stats?: NormStats): Promise<Uint8Array> {
  const px = tf.tidy(() => {
    const std = stats ? stats.std : [1, 1, 1];
    const mean = stats ? stats.mean : [0, 0, 0];
    const unit = tf.add(tf.mul(x, tf.tensor1d(std)), tf.tensor1d(mean));
    return tf.clipByValue(tf.round(tf.mul(unit, 255)), 0, 255);
  });
  const values = await px.data();
  px.dispose();
  return Uint8Array.from(values);
}
