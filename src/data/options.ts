import type { OnBadImage } from './dataset.js';
import type { CacheOptions, ImageCache } from './imageCache.js';
import type { PadMode, ResizeMethod } from './resize.js';
import type { NormStats } from './normalize.js';
import type { ColumnRef } from './table.js';
import type { BatchTransform, ItemTransform } from './transforms/transform.js';

/** How items are split, sized and batched: what every `DataLoaders.from*` factory takes. */
export interface LoaderOptions {
  /** Base directory of the images (fastai's `path`). Default `'.'`. */
  path?: string;
  /** Fraction of items for validation, in (0, 1). Default 0.2. Ignored with `validCol`. */
  validPct?: number;
  /** Seed for the split and the shuffling; unseeded differs every run, as in fastai. */
  seed?: number | string;
  /** Keep each class's share in both splits (fastai's split is not stratified). Default false. */
  stratify?: boolean;
  /**
   * Image size: a number for square, or `[height, width]`. Default 224. This is fastai
   * v1's `size=`: the resize is the same on both sets (the box centred), so decoded
   * images and body features cache. For fastai v2's `Resize` (a random position on the
   * training set) use `itemTfms: [Resize(size)]` instead.
   */
  size?: number | [number, number];
  /** How `size` fits the image: `'crop'` (default, fastai's: the largest centred box of the target's shape), `'squish'` or `'pad'`. */
  resizeMethod?: ResizeMethod;
  /** Padding for `resizeMethod: 'pad'`. Default `'reflection'`, as fastai. */
  padMode?: PadMode;
  /** Batch size. Default 64. */
  bs?: number;
  /** Validation batch size. Default `bs`. */
  valBs?: number;
  /** Shuffle the training items every epoch. Default true (validation is never shuffled). */
  shuffle?: boolean;
  /** Drop the last, incomplete training batch. Default true, as fastai (validation keeps it). */
  dropLast?: boolean;
  /** Normalisation stats applied to every batch, e.g. `imagenetStats` (the same as `Normalize.fromStats` in `batchTfms`). Default none: pixels / 255. */
  normalize?: NormStats;
  /**
   * fastai's `item_tfms`: transforms of each decoded image, on the CPU, e.g.
   * `[Resize(460)]` or `[RandomResizedCrop(224, { minScale: 0.35 })]`. One must set the
   * size (else the `size` option's resize runs first).
   */
  itemTfms?: ItemTransform[];
  /**
   * fastai's `batch_tfms`: transforms of each batch on the backend, e.g.
   * `augTransforms({ size: 224 })`, in their `order` (Normalize last). Random ones run
   * on training batches only.
   */
  batchTfms?: BatchTransform[];
  /** `'error'` (default) stops at a missing or undecodable image; `'skip'` leaves it out and lists it in `dls.skipped`. */
  onBadImage?: OnBadImage;
  /** Decoded-image cache: a memory budget and an optional directory, or a cache to share. */
  cache?: CacheOptions | ImageCache;
  /**
   * Allow images outside `path`: names that are absolute or go through `..`, and files
   * or symlinks that resolve outside it. Default false: every item must lie inside the
   * data folder (`path`; for `fromCsv` the CSV's folder, for `fromDataFrame` the current
   * folder, for `fromFolder` the folder itself).
   */
  allowOutsidePath?: boolean;
  /** Decode SVG and PDF images too. Default false: rendering a vector image can read other files. */
  allowVector?: boolean;
  /** Batches decoded ahead of training. Default 2. */
  prefetch?: number;
  /** Images decoded at once. Default 8. */
  concurrency?: number;
  /** Refuse images with more pixels (decompression bombs). Default 100,000,000. */
  limitInputPixels?: number;
  /** Progress of checking the files, shown when that takes over a second (a bar on a terminal, lines otherwise). Default true. */
  progress?: boolean;

}

/** Options of `DataLoaders.fromDataFrame` and `fromCsv`: the columns, then {@link LoaderOptions}. */
export interface DataFrameOptions extends LoaderOptions {
  /** Column of file names, by name or index. Default 0. */
  fnCol?: ColumnRef;
  /** Column of labels, by name or index. Default 1. */
  labelCol?: ColumnRef;
  /** Sub-folder of `path` the file names are in. */
  folder?: string;
  /** Suffix appended to every file name, e.g. `'.jpg'`. */
  suff?: string;
  /** Split labels on this delimiter: multi-label data (the learner then uses BCE loss). */
  labelDelim?: string;
  /** Column whose truthy values mark validation items; `validPct` is then ignored. */
  validCol?: ColumnRef;
}

/** Options of `DataLoaders.fromFolder`. */
export interface FolderOptions extends LoaderOptions {
  /** Training folder under `path`. Default `'train'`. */
  train?: string;
  /** Validation folder under `path`. Default `'valid'`. */
  valid?: string;
}
