import { basename, dirname, join, relative, resolve } from 'node:path';
import * as tf from '../core/tf.js';
import { writeImageGrid } from '../plot/imageGrid.js';
import { buildDataset, type Entry } from './build.js';
import { DataLoader, type Batch } from './dataLoader.js';
import { isNormalize } from './transforms/normalizeTransform.js';
import { makeTestDl, type TestDlOptions, type TestItem } from './testDl.js';
import type { BatchTransform, ItemTransform } from './transforms/transform.js';
import type { ImageDataset } from './dataset.js';
import type { ResizeSpec } from './image.js';
import { factoryPlan, type FactoryPlan } from './factories.js';
import { listImages } from './files.js';
import { datasetFromItems, type ItemRecipe } from './itemDataset.js';
import type { SkippedItem } from './items.js';
import { regexLabeller, type Label } from './labellers.js';
import { denormalizePixels, type NormStats } from './normalize.js';
import type { DataFrameOptions, FolderOptions, LoaderOptions } from './options.js';
import { describeRow, readCsv, resolveColumn, type Row } from './table.js';
import { ensureBackend } from '../engine/backend.js';
import { FastvisionError } from '../core/errors.js';

/** Options of {@link DataLoaders.showBatch}. */
export interface ShowBatchOptions {
  /** Images to show. Default 9. */
  maxN?: number;
  /** Rows of the grid. Default `int(sqrt(maxN))`. */
  rows?: number;
  /** PNG to write. Default `'batch.png'`. */
  file?: string;
  /** Which split to draw from. Default `'train'`. */
  ds?: 'train' | 'valid';
  /** Show one item through the augmentations `maxN` times (fastai's `unique=True`). Default false. */
  unique?: boolean;
}

/** Options of {@link DataLoaders.withSize}. */
export interface WithSizeOptions {
  /** The new image size (of a batch: the last resize's): a number for square, or `[height, width]`. */
  size: number | [number, number];
  /** A new batch size. Default the current one. */
  bs?: number;
  /** A new validation batch size. Default `bs`. */
  valBs?: number;
}

/**
 * The training and validation {@link DataLoader}s of an image-classification dataset,
 * with its vocab — fastai's `ImageDataLoaders`.
 *
 * @example
 * ```ts
 * const dls = await DataLoaders.fromCsv('data/albums.csv', {
 *   path: 'data', fnCol: 'image_name', labelCol: 'tags', validPct: 0.2, seed: 42, size: 224, bs: 64,
 * });
 * console.log(dls.vocab, dls.train.n, dls.valid.n);
 * ```
 */
export class DataLoaders {
  /** The loader of training batches (shuffled, dropping the last incomplete batch by default). */
  readonly train: DataLoader;
  /** The loader of validation batches (in order, every item). */
  readonly valid: DataLoader;
  private stats: NormStats | undefined;

  private constructor(
    private readonly dataset: ImageDataset,
    trainIdx: readonly number[],
    validIdx: readonly number[],
    /** Base directory, as fastai's `dls.path`. */
    readonly path: string,
    private readonly opts: LoaderOptions,
  ) {
    const batchTfms = checkBatchTfms(opts.batchTfms);
    const norm = batchTfms.filter(isNormalize);
    if (norm.length > 1 || (norm.length && opts.normalize)) throw new FastvisionError('BAD_OPTION', 'fastvision: give the normalisation once: one Normalize in batchTfms or the normalize option');
    this.stats = opts.normalize ?? norm[0]?.stats;
    const shared = {
      prefetch: opts.prefetch,
      concurrency: opts.concurrency,
      normalize: () => this.stats,
      batchTfms: batchTfms.filter((t) => !isNormalize(t)),
    };
    const bs = opts.bs ?? 64;
    this.train = new DataLoader(dataset, trainIdx, {
      ...shared,
      bs,
      shuffle: opts.shuffle ?? true,
      dropLast: opts.dropLast ?? true,
      seed: opts.seed,
      split: 'train',
    });
    this.valid = new DataLoader(dataset, validIdx, { ...shared, bs: opts.valBs ?? bs, shuffle: false, dropLast: false, split: 'valid' });
  }

  /** The class names, sorted: index i of a prediction is `vocab[i]`. */
  get vocab(): readonly string[] {
    return this.dataset.vocab;
  }

  /** Number of classes (fastai's `dls.c`). */
  get c(): number {
    return this.dataset.vocab.length;
  }

  /** True when labels were split on `labelDelim` (the learner then uses BCE loss). */
  get multiLabel(): boolean {
    return this.dataset.multiLabel;
  }

  /** Height and width of the images in a batch (after the batch transforms). */
  get size(): [number, number] {
    return this.valid.size;
  }

  /** Height and width of each item after the item transforms (before the batch transforms). */
  get itemSize(): [number, number] {
    return [...this.dataset.size];
  }

  /** fastai's `after_item`: the item transforms, in order (the `size` option's resize among them). */
  get itemTfms(): readonly ItemTransform[] {
    return this.dataset.itemTfms;
  }

  /** fastai's `after_batch`: the batch transforms, in order, without Normalize (see {@link normalize}). */
  get batchTfms(): readonly BatchTransform[] {
    return this.train.batchTfms;
  }

  /**
   * The first resize of the item transforms as `decodeImage` takes it (on the validation
   * set): what a model fed outside fastvision needs; the whole pipeline is `itemTfms`.
   */
  get resizeSpec(): ResizeSpec {
    const first = this.dataset.itemTfms.find((t) => t.size)!;
    const [height, width] = first.size!;
    const cfg = first.config;
    return cfg?.type === 'Resize' ? { height, width, method: cfg.method, padMode: cfg.padMode } : { height, width, method: 'squish', padMode: 'reflection' };
  }

  /** Item `index`'s pixels after the validation item transforms (uint8 RGB, as in a batch before normalisation), for pictures. */
  async image(index: number): Promise<{ pixels: Uint8Array; width: number; height: number }> {
    const pixels = await this.dataset.load(index);
    if (!pixels) throw new FastvisionError('BAD_DATA', `fastvision: item ${index} is a bad image that was skipped`);
    return { pixels, width: this.dataset.size[1], height: this.dataset.size[0] };
  }

  /**
   * A DataLoader over new images through the validation transforms, as fastai's
   * `dls.test_dl`: for `learn.getPreds({ dl })`. Paths are relative to the current folder.
   *
   * @example
   * ```ts
   * const dl = await dls.testDl(['new/a.jpg', 'new/b.jpg']);
   * const { preds } = await learn.getPreds({ dl });
   * ```
   */
  testDl(items: readonly TestItem[], opts: TestDlOptions = {}): Promise<DataLoader> {
    const pre = { vocab: this.vocab, multiLabel: this.multiLabel, itemTfms: this.itemTfms, batchTfms: this.batchTfms, normalize: () => this.stats };
    return makeTestDl(items, pre, { bs: this.valid.bs, limitInputPixels: this.dataset.limitInputPixels, allowVector: this.dataset.allowVector, ...opts });
  }

  /** Where item `index` came from (file and row), for captions and reports. */
  itemAt(index: number): { file: string; origin: string } {
    const item = this.dataset.items[index];
    if (!item) throw new FastvisionError('BAD_DATA', `fastvision: no item ${index} (the dataset has ${this.dataset.items.length})`);
    return { file: item.file, origin: item.origin };
  }

  /** Images left out with `onBadImage: 'skip'`, and why (grows as bad images are met while loading). */
  get skipped(): readonly SkippedItem[] {
    return this.dataset.skipped;
  }

  /** Normalisation stats applied to batches; a learner sets ImageNet's for a pretrained body. */
  get normalize(): NormStats | undefined {
    return this.stats;
  }

  set normalize(stats: NormStats | undefined) {
    this.stats = stats;
  }

  /**
   * The same items, split and vocab at another image size (and optionally batch
   * size), sharing the decoded-image cache: progressive resizing in one line.
   *
   * @example
   * ```ts
   * learn.dls = dls.withSize(320);
   * ```
   */
  withSize(size: number | [number, number] | WithSizeOptions): DataLoaders {
    const o: WithSizeOptions = typeof size === 'object' && !Array.isArray(size) ? size : { size };
    const target = sizePair(o.size);
    // The last resize sets the size: a batch transform's (augTransforms({ size })) or else the last item transform's.
    const batchTfms = [...(this.opts.batchTfms ?? [])];
    const b = batchTfms.findLastIndex((t) => t.outSize && t.withSize);
    let itemTfms = [...this.dataset.itemTfms];
    if (b >= 0) batchTfms[b] = batchTfms[b]!.withSize!(target);
    else {
      const i = itemTfms.findLastIndex((t) => t.size);
      if (!itemTfms[i]!.withSize) throw new FastvisionError('BAD_OPTION', `fastvision: withSize cannot resize the item transform '${itemTfms[i]!.name}' (it has no withSize)`);
      itemTfms = itemTfms.map((t, k) => (k === i ? t.withSize!(target) : t));
    }
    const opts: LoaderOptions = { ...this.opts, batchTfms, normalize: this.stats };
    delete opts.size;
    if (o.bs != null) opts.bs = o.bs;
    if (o.valBs != null || o.bs != null) opts.valBs = o.valBs ?? o.bs;
    return new DataLoaders(this.dataset.withItemTfms(itemTfms), this.train.indices, this.valid.indices, this.path, { ...opts, batchTfms: batchTfms.filter((t) => !isNormalize(t)) });
  }

  /**
   * Writes a grid of one batch's images, de-normalised, captioned with their labels,
   * as fastai's `show_batch`; returns the PNG's path.
   */
  async showBatch(opts: ShowBatchOptions = {}): Promise<string> {
    const { maxN = 9, rows, file = 'batch.png', ds = 'train', unique = false } = opts;
    const dl = this[ds];
    const { x, y, indices } = unique ? await firstBatch(dl.batchesOf([Array(maxN).fill(dl.batchOrder()[0]?.[0] ?? dl.indices[0])])) : await dl.oneBatch();
    try {
      const n = Math.min(maxN, indices.length);
      const [, height, width] = x.shape;
      const pixels = await denormalizePixels(x, this.stats);
      const labels = (await y.array()) as number[] | number[][];
      const caption = (l: number | number[]) =>
        Array.isArray(l) ? this.vocab.filter((_, k) => l[k]! > 0.5).join('; ') || '(none)' : this.vocab[l]!;
      const per = height * width * 3;
      const images = Array.from({ length: n }, (_, k) => ({
        pixels: pixels.subarray(k * per, (k + 1) * per),
        width,
        height,
        caption: caption(labels[k]!),
      }));
      return await writeImageGrid(images, { file, ...(rows != null ? { rows } : {}) });
    } finally {
      tf.dispose([x, y]);
    }
  }

  /**
   * DataLoaders from a table of rows (fastai's `from_df`): a file-name column and a
   * label column, given by name or index.
   */
  static async fromDataFrame(rows: readonly Row[], opts: DataFrameOptions = {}): Promise<DataLoaders> {
    return DataLoaders.fromTable(rows, opts, 'the table');
  }

  /**
   * DataLoaders from a CSV file with a header row (fastai's `from_csv`); see
   * {@link fromDataFrame}. File names are relative to `path`, which defaults to the
   * CSV's own folder.
   */
  static async fromCsv(file: string, opts: DataFrameOptions = {}): Promise<DataLoaders> {
    return DataLoaders.fromTable(await readCsv(file), { ...opts, path: opts.path ?? dirname(file) }, file, file);
  }

  /**
   * DataLoaders from an ImageNet-style folder: `path/train/<class>/*` and
   * `path/valid/<class>/*`, or every image under `path` split at random when
   * `validPct` is given. The label is the image's parent folder.
   */
  static async fromFolder(path: string, opts: FolderOptions = {}): Promise<DataLoaders> {
    await ensureBackend();
    const { train = 'train', valid = 'valid', ...rest } = opts;
    const root = resolve(path);
    const entries: Entry[] = [];
    const add = async (dir: string, isValid?: boolean) => {
      for (const file of await listImages(dir)) {
        const name = relative(root, file);
        entries.push({ name, label: basename(dirname(file)), origin: name, ...(isValid != null ? { valid: isValid } : {}) });
      }
    };
    if (opts.validPct != null) await add(root);
    else {
      await add(join(root, train), false);
      await add(join(root, valid), true);
    }
    const built = await buildDataset(entries, { ...rest, path, splitByFlag: opts.validPct == null }, `folder '${path}'`);
    return new DataLoaders(built.dataset, built.train, built.valid, path, { ...rest, path });
  }

  /** DataLoaders from parallel lists of file names (relative to `path`) and labels (fastai's `from_lists`). */
  static async fromLists(path: string, fnames: readonly string[], labels: readonly unknown[], opts: LoaderOptions & { labelDelim?: string } = {}): Promise<DataLoaders> {
    await ensureBackend();
    if (fnames.length !== labels.length) {
      throw new FastvisionError('BAD_DATA', `fastvision: fromLists got ${fnames.length} file names but ${labels.length} labels`);
    }
    const entries = fnames.map((name, i) => ({ name, label: labels[i], origin: `item ${i + 1}` }));
    const built = await buildDataset(entries, { ...opts, path }, 'the lists');
    return new DataLoaders(built.dataset, built.train, built.valid, path, { ...opts, path });
  }

  // fastai's labelling factories (`from_name_re` & co.): each is a DataBlock recipe, built
  // by `factoryPlan` and loaded through `fromItems`, the path `DataBlock` takes too.

  /**
   * DataLoaders from image files labelled by the first capture group of `pat` in each
   * file's name (fastai's `from_name_re`), split at random. The pattern is searched for
   * anywhere in the name (Python's `re.search`); names it does not match are one error
   * that lists them.
   *
   * @param path - The data folder: `fnames` are relative to it; absolute ones must lie inside it unless `allowOutsidePath`.
   * @param fnames - The image files, e.g. from `getImageFiles`.
   * @param pat - A RegExp (or its source) whose first group is the label.
   * @param opts - `validPct` (default 0.2, as fastai), `seed`, `size`, `bs` and the other {@link LoaderOptions}.
   *
   * @example
   * ```ts
   * const fnames = await getImageFiles('data/pets/images');
   * const dls = await DataLoaders.fromNameRe('data/pets/images', fnames, /^(.+)_\d+\.jpg$/, { validPct: 0.2, seed: 42, size: 224 });
   * ```
   */
  static async fromNameRe(path: string, fnames: readonly string[], pat: RegExp | string, opts: LoaderOptions = {}): Promise<DataLoaders> {
    return DataLoaders.fromPlan(factoryPlan(path, fnames, 'name', regexLabeller(pat), 'the pattern', opts));
  }

  /**
   * As {@link fromNameRe}, with `pat` applied to each file's path relative to `path`,
   * `/`-separated on every platform (fastai's `from_path_re`).
   *
   * @param path - The data folder: `fnames` are relative to it; absolute ones must lie inside it unless `allowOutsidePath`.
   * @param fnames - The image files.
   * @param pat - A RegExp (or its source) whose first group is the label.
   * @param opts - `validPct` (default 0.2), `seed`, `size`, `bs` and the other {@link LoaderOptions}.
   *
   * @example
   * ```ts
   * // data/birds/<species>/<photo>.jpg
   * const dls = await DataLoaders.fromPathRe('data/birds', await getImageFiles('data/birds'), /^([^/]+)\//, { seed: 42 });
   * ```
   */
  static async fromPathRe(path: string, fnames: readonly string[], pat: RegExp | string, opts: LoaderOptions = {}): Promise<DataLoaders> {
    return DataLoaders.fromPlan(factoryPlan(path, fnames, 'path', regexLabeller(pat), 'the pattern', opts));
  }

  /**
   * DataLoaders from image files labelled by `labelFunc(name)` of each file's name
   * (fastai's `from_name_func`), split at random. A list of labels makes multi-label data.
   *
   * @param path - The data folder: `fnames` are relative to it; absolute ones must lie inside it unless `allowOutsidePath`.
   * @param fnames - The image files.
   * @param labelFunc - The label of a file name: a non-empty string (or boolean, number), or a list of strings.
   * @param opts - `validPct` (default 0.2), `seed`, `size`, `bs` and the other {@link LoaderOptions}.
   *
   * @example
   * ```ts
   * // fastbook's first model: in the pets data set, cat breeds are capitalised.
   * const isCat = (name: string) => (name[0] === name[0]!.toUpperCase() ? 'cat' : 'dog');
   * const dls = await DataLoaders.fromNameFunc('data/pets/images', fnames, isCat, { seed: 42, size: 224 });
   * ```
   */
  static async fromNameFunc(path: string, fnames: readonly string[], labelFunc: (name: string) => Label, opts: LoaderOptions = {}): Promise<DataLoaders> {
    return DataLoaders.fromPlan(factoryPlan(path, fnames, 'name', labelFunc, 'labelFunc', opts));
  }

  /**
   * As {@link fromNameFunc}, with `labelFunc` given each file's path relative to `path`,
   * `/`-separated on every platform (fastai's `from_path_func`).
   *
   * @param path - The data folder: `fnames` are relative to it; absolute ones must lie inside it unless `allowOutsidePath`.
   * @param fnames - The image files.
   * @param labelFunc - The label of a relative path: a non-empty string (or boolean, number), or a list of strings.
   * @param opts - `validPct` (default 0.2), `seed`, `size`, `bs` and the other {@link LoaderOptions}.
   *
   * @example
   * ```ts
   * const dls = await DataLoaders.fromPathFunc('data', fnames, (p) => p.split('/')[0]!, { seed: 42 });
   * ```
   */
  static async fromPathFunc(path: string, fnames: readonly string[], labelFunc: (path: string) => Label, opts: LoaderOptions = {}): Promise<DataLoaders> {
    return DataLoaders.fromPlan(factoryPlan(path, fnames, 'path', labelFunc, 'labelFunc', opts));
  }

  private static async fromPlan(plan: FactoryPlan): Promise<DataLoaders> {
    return DataLoaders.fromItems(plan.items, plan.recipe, plan.opts, `'${plan.opts.path}'`);
  }

  /**
   * Labels, splits and loads a list of files: the one path of `DataBlock` and of the
   * factories above (see `datasetFromItems`).
   *
   * @internal
   */
  static async fromItems(items: readonly string[], recipe: ItemRecipe, opts: LoaderOptions & { path: string }, source: string): Promise<DataLoaders> {
    await ensureBackend();
    const built = await datasetFromItems(items, recipe, opts, source);
    return new DataLoaders(built.dataset, built.train, built.valid, opts.path, opts);
  }

  private static async fromTable(rows: readonly Row[], opts: DataFrameOptions, source: string, csvFile?: string): Promise<DataLoaders> {
    // Batches are tensors: start fastvision's backend before tfjs falls back to its pure-JS one.
    await ensureBackend();
    if (rows.length === 0) throw new FastvisionError('BAD_DATA', `fastvision: ${source} is empty: no rows to load`);
    const notRow = rows.findIndex((r) => r == null || typeof r !== 'object' || Array.isArray(r));
    if (notRow >= 0) {
      const what = rows[notRow] === null ? 'null' : Array.isArray(rows[notRow]) ? 'an array' : typeof rows[notRow];
      throw new FastvisionError('BAD_DATA', `${describeRow(notRow, csvFile)} of ${source} is ${what}; every row must be an object of column → value`);
    }
    const fnCol = resolveColumn(rows, opts.fnCol ?? 0, 'fnCol', source);
    const labelCol = resolveColumn(rows, opts.labelCol ?? 1, 'labelCol', source);
    const validCol = opts.validCol != null ? resolveColumn(rows, opts.validCol, 'validCol', source) : undefined;
    const entries: Entry[] = rows.map((row, i) => {
      const origin = describeRow(i, csvFile);
      const name = row[fnCol];
      if (name == null || String(name).trim() === '') throw new FastvisionError('BAD_DATA', `fastvision: ${origin} has an empty file name in column '${fnCol}'`);
      return {
        name: String(name),
        label: row[labelCol],
        origin,
        ...(validCol ? { valid: truthyCell(row[validCol]) } : {}),
      };
    });
    const built = await buildDataset(entries, { ...opts, splitByFlag: validCol != null }, source);
    return new DataLoaders(built.dataset, built.train, built.valid, opts.path ?? '.', opts);
  }
}

function truthyCell(value: unknown): boolean {
  if (typeof value === 'string') return !['', '0', 'false', 'no'].includes(value.trim().toLowerCase());
  return Boolean(value);
}

async function firstBatch(batches: AsyncGenerator<Batch>): Promise<Batch> {
  for await (const b of batches) return b;
  throw new FastvisionError('BAD_DATA', 'fastvision: no batch to show (every item skipped?)');
}

function sizePair(size: number | [number, number]): [number, number] {
  return typeof size === 'number' ? [size, size] : [size[0], size[1]];
}

/** `batchTfms` checked: an array of batch transforms. */
function checkBatchTfms(tfms: unknown): BatchTransform[] {
  if (tfms == null) return [];
  if (!Array.isArray(tfms)) throw new FastvisionError('BAD_OPTION', `fastvision: batchTfms must be an array of batch transforms (augTransforms() returns one), got ${typeof tfms}`);
  tfms.forEach((t: { kind?: string; name?: string } | null, i) => {
    if (t?.kind !== 'batch') {
      const hint = t?.kind === 'item' ? ` ('${t.name}' is an item transform: put it in itemTfms)` : Array.isArray(t) ? ' (an array: spread it, batchTfms: [...augTransforms(), ...])' : '';
      throw new FastvisionError('BAD_OPTION', `fastvision: batchTfms[${i}] is not a batch transform${hint}`);
    }
  });
  return tfms as BatchTransform[];
}
