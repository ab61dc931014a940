import * as tf from '../core/tf.js';
import { limiter } from './concurrency.js';
import type { ImageDataset } from './dataset.js';
import { normalizePixels, type NormStats } from './normalize.js';
import { permutation, rng } from './splitters.js';
import { normalizeTensor } from './transforms/normalizeTransform.js';
import type { BatchTransform, Rng, DatasetSplit } from './transforms/transform.js';
import { FastvisionError } from '../core/errors.js';

/** One batch. The caller owns both tensors and must dispose them (or run inside `tf.tidy`). */
export interface Batch {
  /** float32 `[bs, height, width, 3]`, normalised. */
  x: tf.Tensor4D;
  /** int32 class indices `[bs]`, or float32 multi-hot `[bs, c]` for multi-label data. */
  y: tf.Tensor;
  /** Dataset indices of the items in this batch (bad images skipped are not among them). */
  indices: number[];
}

/** How a DataLoader batches, orders and prefetches. */
export interface DataLoaderOptions {
  bs: number;
  shuffle: boolean;
  dropLast: boolean;
  /** Batches decoded ahead of the one being trained on. Default 2. */
  prefetch?: number;
  /** Images decoded at once, across all prefetched batches. Default 8 (sharp runs 4 at a time on libuv's pool; 8 keeps it busy). */
  concurrency?: number;
  /** Seeds the shuffling, so epochs come in the same order every run. */
  seed?: number | string | undefined;
  /** Read at each batch, so a learner can add ImageNet stats later (fastai's `Normalize`). */
  normalize: () => NormStats | undefined;
  /** Which transforms apply: the training loader's random ones, or the validation set's. Default `'valid'`. */
  split?: DatasetSplit;
  /** fastai's `batch_tfms` without Normalize, sorted by `order`. */
  batchTfms?: readonly BatchTransform[];
}

interface RawBatch {
  pixels: Uint8Array;
  indices: number[];
  /** Seeds the batch transforms' draws. */
  random: Rng;
}

/**
 * Batches of one split (fastai's `TfmdDL`): async-iterable, one pass per epoch.
 * Decoding runs ahead of the consumer with bounded concurrency.
 *
 * @example
 * ```ts
 * for await (const { x, y } of dls.train) {
 *   // ... train on x, y ...
 *   tf.dispose([x, y]);
 * }
 * ```
 */
export class DataLoader implements AsyncIterable<Batch> {
  readonly bs: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly prefetch: number;
  private readonly concurrency: number;
  private readonly random: () => number;
  /** Draws one seed per batch for its augmentations, apart from the shuffling's stream. */
  private readonly augRandom: () => number;
  readonly split: DatasetSplit;
  readonly batchTfms: readonly BatchTransform[];

  constructor(
    readonly dataset: ImageDataset,
    /** Dataset indices of this split's items. */
    readonly indices: readonly number[],
    private readonly opts: DataLoaderOptions,
  ) {
    if (!(Number.isInteger(opts.bs) && opts.bs >= 1)) throw new FastvisionError('BAD_OPTION', `fastvision: bs must be a whole number ≥ 1, got ${String(opts.bs)}`);
    this.bs = opts.bs;
    this.shuffle = opts.shuffle;
    this.dropLast = opts.dropLast;
    this.prefetch = opts.prefetch ?? 2;
    this.concurrency = opts.concurrency ?? 8;
    this.random = rng(opts.seed);
    this.augRandom = rng(opts.seed == null ? undefined : `${opts.seed}:augment`);
    this.split = opts.split ?? 'valid';
    this.batchTfms = [...(opts.batchTfms ?? [])].sort((a, b) => a.order - b.order);
  }

  /** `[height, width]` of the images in a batch, after the batch transforms. */
  get size(): [number, number] {
    return this.batchTfms.reduce<[number, number]>((s, t) => t.outSize?.(s) ?? s, this.dataset.size);
  }

  /** True when an item or batch transform draws random numbers on this loader (so its batches differ every pass). */
  get isRandom(): boolean {
    return this.dataset.isRandom(this.split) || this.batchTfms.some((t) => t.isRandom(this.split));
  }

  /** Items in this split (bad images found so far with `onBadImage: 'skip'` not counted). */
  get n(): number {
    return this.indices.filter((i) => !this.dataset.isBad(i)).length;
  }

  /** Batches per epoch. */
  get length(): number {
    return this.dropLast ? Math.floor(this.n / this.bs) : Math.ceil(this.n / this.bs);
  }

  /** The same items with other batching options (e.g. another `bs`). */
  with(opts: Partial<DataLoaderOptions>, dataset = this.dataset): DataLoader {
    return new DataLoader(dataset, this.indices, { ...this.opts, ...opts });
  }

  /** The first batch of a fresh pass, as fastai's `one_batch()`. The caller disposes it. */
  async oneBatch(): Promise<Batch> {
    for await (const b of this) return b;
    throw new FastvisionError('BAD_OPTION', 'fastvision: this DataLoader has no batches (too few items for bs with dropLast?)');
  }

  /**
   * The dataset indices of the next pass's batches, in order (shuffling draws from the
   * loader's seeded stream, as iterating does). A learner training on cached features
   * uses this in place of iterating, and sees the same batches.
   */
  batchOrder(): number[][] {
    const live = this.indices.filter((i) => !this.dataset.isBad(i));
    const order = this.shuffle ? permutation(live.length, this.random).map((k) => live[k]!) : live;
    const batches: number[][] = [];
    for (let s = 0; s < order.length; s += this.bs) batches.push(order.slice(s, s + this.bs));
    if (this.dropLast && batches.length && batches.at(-1)!.length < this.bs) batches.pop();
    return batches;
  }

  /** The targets of these items, as a batch's `y`. The caller disposes it. */
  targets(indices: readonly number[]): tf.Tensor {
    const { targets, vocab } = this.dataset;
    if (!this.dataset.hasLabels) return tf.fill([indices.length], -1, 'int32');
    return this.dataset.multiLabel
      ? tf.tensor2d(indices.map((i) => targets[i] as number[]), [indices.length, vocab.length], 'float32')
      : tf.tensor1d(indices.map((i) => targets[i] as number), 'int32');
  }

  [Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    return this.batchesOf(this.batchOrder());
  }

  /** Batches of exactly these dataset indices, decoded ahead with this loader's prefetch and concurrency. */
  async *batchesOf(batches: readonly number[][]): AsyncGenerator<Batch, void, undefined> {
    const limit = limiter(this.concurrency);
    const queue: Promise<RawBatch>[] = [];
    let next = 0;
    const fill = () => {
      while (queue.length <= this.prefetch && next < batches.length) {
        const p = this.loadRaw(batches[next++]!, limit);
        p.catch(() => {}); // awaited in turn below; this only stops an early "unhandled" report
        queue.push(p);
      }
    };
    try {
      fill();
      while (queue.length) {
        const raw = await queue.shift()!;
        fill();
        if (raw.indices.length) yield this.toBatch(raw);
      }
    } finally {
      await Promise.allSettled(queue);
    }
  }

  private loadRaw(indices: number[], limit: ReturnType<typeof limiter>): Promise<RawBatch> {
    // Drawn now, in batch order, so the augmentations do not depend on which decode finishes first.
    const seed = this.augRandom();
    return this.loadRawSeeded(indices, limit, seed);
  }

  private async loadRawSeeded(indices: number[], limit: ReturnType<typeof limiter>, seed: number): Promise<RawBatch> {
    const size = this.dataset.imageBytes;
    const images = await Promise.all(indices.map((i, k) => limit(() => this.dataset.load(i, this.split, rng(`${seed}:${k}`)))));
    const kept = indices.filter((_, j) => images[j] != null);
    const pixels = new Uint8Array(kept.length * size);
    let k = 0;
    for (const img of images) if (img) pixels.set(img, size * k++);
    return { pixels, indices: kept, random: rng(`${seed}:batch`) };
  }

  /**
   * Pixels → float batch: straight to normalised floats when no batch transform acts
   * on this split (one pass through a lookup table), else `/255`, the transforms in
   * order, then Normalize.
   */
  private toBatch({ pixels, indices, random }: RawBatch): Batch {
    const [height, width] = this.dataset.size;
    const shape: [number, number, number, number] = [indices.length, height, width, 3];
    const stats = this.opts.normalize();
    let size: [number, number] = [height, width];
    const active = this.batchTfms.filter((t) => {
      const on = t.activeOn(this.split, size);
      size = t.outSize?.(size) ?? size;
      return on;
    });
    if (!active.length) return { x: normalizePixels(pixels, shape, stats), y: this.targets(indices), indices };
    let x = normalizePixels(pixels, shape);
    for (const t of active) {
      const next = t.apply(x, this.split, random);
      x.dispose();
      x = next;
    }
    if (stats) {
      const next = normalizeTensor(x, stats);
      x.dispose();
      x = next;
    }
    return { x, y: this.targets(indices), indices };
  }
}
