import { DataLoaders } from './dataLoaders.js';
import type { Label } from './labellers.js';
import type { LoaderOptions } from './options.js';
import { randomSplitter, type ItemSplitter } from './splitters.js';
import { FastvisionError } from '../core/errors.js';

/** What a {@link DataBlock} is made of: fastai's `get_items`, `get_y`, `splitter`, `item_tfms`, `batch_tfms`. */
export interface DataBlockOptions<S = string> {
  /** The image files of a source, e.g. {@link getImageFiles}: absolute paths, or paths relative to the current folder. */
  getItems: (source: S) => readonly string[] | Promise<readonly string[]>;
  /** The label of an item, e.g. {@link parentLabel} or {@link regexLabeller}: a string, or a list of strings for multi-label data. */
  getY: (item: string) => Label;
  /** `[trainIdx, validIdx]` of the items, e.g. {@link grandparentSplitter}. Default `randomSplitter()` (20%, unseeded), as fastai. */
  splitter?: ItemSplitter<string>;
  /** Item transforms, passed to the DataLoaders (fastai's `item_tfms`). */
  itemTfms?: LoaderOptions['itemTfms'];
  /** Batch transforms, passed to the DataLoaders (fastai's `batch_tfms`). */
  batchTfms?: LoaderOptions['batchTfms'];
}

/** Options of {@link DataBlock.dataloaders}: the {@link LoaderOptions} but the split ones, which are the block's splitter's. */
export type DataBlockLoaderOptions = Omit<LoaderOptions, 'validPct' | 'stratify'>;

/**
 * fastai's `DataBlock` for image classification: how to get the items of a source, label
 * them and split them; `dataloaders(source)` does it. `DataLoaders.fromNameRe` and its
 * siblings are ready-made blocks and take the same path.
 *
 * @example
 * ```ts
 * const pets = new DataBlock({
 *   getItems: getImageFiles,
 *   getY: regexLabeller(/([^/]+)_\d+\.jpg$/),
 *   splitter: randomSplitter(0.2, 42),
 * });
 * const dls = await pets.dataloaders('data/pets/images', { size: 224, bs: 64 });
 *
 * // ImageNet-style train/<class>/…, valid/<class>/…
 * const imagenette = new DataBlock({ getItems: getImageFiles, getY: parentLabel, splitter: grandparentSplitter() });
 * ```
 */
export class DataBlock<S = string> {
  /** The image files of a source. */
  readonly getItems: DataBlockOptions<S>['getItems'];
  /** The label of an item. */
  readonly getY: DataBlockOptions<S>['getY'];
  /** The split of the items. */
  readonly splitter: ItemSplitter<string>;
  /** Item transforms passed to the DataLoaders. */
  readonly itemTfms: LoaderOptions['itemTfms'];
  /** Batch transforms passed to the DataLoaders. */
  readonly batchTfms: LoaderOptions['batchTfms'];

  /**
   * @param opts - `getItems`, `getY`, and optionally `splitter` (default a random 20%), `itemTfms`, `batchTfms`.
   */
  constructor(opts: DataBlockOptions<S>) {
    for (const key of ['getItems', 'getY', 'splitter'] as const) {
      const value = opts?.[key];
      if (value === undefined && key === 'splitter') continue;
      if (typeof value !== 'function') throw new FastvisionError('BAD_OPTION', `fastvision: DataBlock's ${key} must be a function, got ${value === null ? 'null' : typeof value}`);
    }
    this.getItems = opts.getItems;
    this.getY = opts.getY;
    this.splitter = opts.splitter ?? randomSplitter();
    this.itemTfms = opts.itemTfms;
    this.batchTfms = opts.batchTfms;
  }

  /**
   * The DataLoaders of `source`: its items from `getItems`, labelled by `getY`, split by
   * `splitter`, checked as every factory checks them (files exist and lie inside `path`,
   * labels are not empty, the vocab is the sorted training labels). Items the splitter
   * puts in neither set are left out, with a warning.
   *
   * @param source - What `getItems` takes: usually the data folder.
   * @param opts - Size, batching and the other {@link LoaderOptions}. `path` (the data folder items must lie in) defaults to `source` when it is a string, else `'.'`; `itemTfms`/`batchTfms` given here replace the block's.
   *
   * @example
   * ```ts
   * const dls = await block.dataloaders('data/imagenette', { size: 160, bs: 64, seed: 42 });
   * ```
   */
  async dataloaders(source: S, opts: DataBlockLoaderOptions = {}): Promise<DataLoaders> {
    for (const key of ['validPct', 'stratify'] as const) {
      if ((opts as LoaderOptions)[key] !== undefined) {
        throw new FastvisionError('BAD_OPTION', `fastvision: DataBlock.dataloaders does not take ${key}: the block's splitter makes the split (e.g. splitter: randomSplitter(0.2, 42))`);
      }
    }
    const path = opts.path ?? (typeof source === 'string' ? source : '.');
    const loaderOpts: LoaderOptions & { path: string } = {
      ...opts,
      path,
      ...((opts.itemTfms ?? this.itemTfms) ? { itemTfms: opts.itemTfms ?? this.itemTfms } : {}),
      ...((opts.batchTfms ?? this.batchTfms) ? { batchTfms: opts.batchTfms ?? this.batchTfms } : {}),
    };
    const items = await this.getItems(source);
    const recipe = { getY: this.getY, splitter: this.splitter, labeller: 'getY', splitterName: 'the splitter' };
    return DataLoaders.fromItems(items, recipe, loaderOpts, typeof source === 'string' ? `'${source}'` : "the DataBlock's source");
  }
}
