import type * as tf from '../../core/tf.js';
import type { Pixels } from '../resample.js';

/** Which split a transform sees: fastai's `split_idx` (0 train, 1 valid, None both). */
export type DatasetSplit = 'train' | 'valid';

/** A seeded stream of numbers in [0, 1): where a transform's random draws come from. */
export type Rng = () => number;

/**
 * A transform of one decoded image (uint8 HWC pixels), fastai's `item_tfms`: it runs
 * per item on the CPU, after the decoded-image cache.
 */
export interface ItemTransform {
  readonly kind: 'item';
  /** For messages and `toString`. */
  readonly name: string;
  /** Draws random numbers on this split (so its output cannot be cached there). */
  isRandom(split: DatasetSplit): boolean;
  /** The output size `[height, width]`, for transforms that set it (Resize and the crops). */
  readonly size?: [number, number];
  /** The item's pixels after the transform. */
  apply(img: Pixels, split: DatasetSplit, rng: Rng): Pixels;
  /** The same transform at another size (progressive resizing), if it has one. */
  withSize?(size: [number, number]): ItemTransform;
  /** What it is as data (kept in exports, so a loaded model preprocesses as the validation set did). */
  readonly config?: ItemTransformConfig;
}

/** An item transform as data: its factory's name and arguments. */
export type ItemTransformConfig =
  | { type: 'Resize'; size: [number, number]; method: 'crop' | 'squish' | 'pad'; padMode: 'reflection' | 'zeros' | 'border'; centred?: boolean }
  | { type: 'RandomResizedCrop'; size: [number, number]; minScale: number; ratio: [number, number]; valXtra: number }
  | { type: 'RandomCrop'; size: [number, number] };

/**
 * A transform of a batch on the backend, fastai's `batch_tfms`: `x` is float32
 * `[n, h, w, 3]`, in [0, 1] before `Normalize` (which runs last).
 */
export interface BatchTransform {
  readonly kind: 'batch';
  readonly name: string;
  /** fastai's `order`: lower runs first (affine 30, lighting 40, Normalize 99). */
  readonly order: number;
  isRandom(split: DatasetSplit): boolean;
  /** Whether it changes a batch of this split and size at all (else the loader skips it). */
  activeOn(split: DatasetSplit, size: readonly [number, number]): boolean;
  /** The output size for an input of `size` on this split. Default: unchanged. */
  outSize?(size: readonly [number, number]): [number, number];
  /** The same transform with another output size (progressive resizing), for transforms that set it. */
  withSize?(size: [number, number]): BatchTransform;
  /** The batch after the transform; the caller disposes the input. */
  apply(x: tf.Tensor4D, split: DatasetSplit, rng: Rng): tf.Tensor4D;
}

/** fastai's `_draw_mask`: `draw()` with probability `p`, else `neutral`. */
export function maybe(rng: Rng, p: number, draw: () => number, neutral: number): number {
  return p >= 1 || rng() < p ? draw() : neutral;
}

/** Uniform in [lo, hi). */
export const uniform = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng();
