import { createHash } from 'node:crypto';
import { FastvisionError } from '../core/errors.js';
import { BadImageError, decodePixels } from './image.js';
import type { ImageCache } from './imageCache.js';
import type { ImageItem, SkippedItem } from './items.js';
import type { Pixels } from './resample.js';
import type { ItemTransform, Rng, DatasetSplit } from './transforms/transform.js';

/** What to do with an image that cannot be read: stop (default) or leave it out and report it. */
export type OnBadImage = 'error' | 'skip';

/**
 * The items of a DataLoaders with their encoded targets, and how to load their pixels
 * through the item transforms. Shared by the training and validation loaders;
 * `withItemTfms` gives the same items through other transforms (progressive resizing)
 * over the same cache.
 */
export class ImageDataset {
  /** `[height, width]` of every item after the item transforms. */
  readonly size: [number, number];

  constructor(
    readonly items: readonly ImageItem[],
    /** Class index per item, or a multi-hot vector per item for multi-label data; -1 for an unlabelled item. */
    readonly targets: readonly number[] | readonly number[][],
    readonly vocab: readonly string[],
    /** fastai's `item_tfms`, in order; at least one sets the size. */
    readonly itemTfms: readonly ItemTransform[],
    readonly cache: ImageCache,
    readonly onBadImage: OnBadImage,
    /** Shared with the DataLoaders, which reports it as `dls.skipped`. */
    readonly skipped: SkippedItem[],
    readonly limitInputPixels: number,
    /** Decode SVG and PDF images too (`allowVector`). */
    readonly allowVector: boolean,
    /** Items found bad while loading, with `onBadImage: 'skip'`; left out from then on, at every size. */
    private readonly bad = new Set<number>(),
    /** False for a test set built without labels. */
    readonly hasLabels = true,
  ) {
    const sized = itemTfms.filter((t) => t.size);
    if (!sized.length) throw new FastvisionError('BAD_OPTION', `fastvision: itemTfms must include one that sets the size (Resize, RandomResizedCrop or RandomCrop); got [${itemTfms.map((t) => t.name).join(', ')}]`);
    this.size = [...sized.at(-1)!.size!];
  }

  get multiLabel(): boolean {
    return Array.isArray(this.targets[0]);
  }

  get imageBytes(): number {
    return this.size[0] * this.size[1] * 3;
  }

  /** True when loading on this split draws random numbers (the output cannot be cached). */
  isRandom(split: DatasetSplit): boolean {
    return this.itemTfms.some((t) => t.isRandom(split));
  }

  withItemTfms(itemTfms: readonly ItemTransform[]): ImageDataset {
    const { items, targets, vocab, cache, onBadImage, skipped, limitInputPixels, allowVector, bad, hasLabels } = this;
    return new ImageDataset(items, targets, vocab, itemTfms, cache, onBadImage, skipped, limitInputPixels, allowVector, bad, hasLabels);
  }

  isBad(index: number): boolean {
    return this.bad.has(index);
  }

  /** The key of item `index` after the (deterministic) item transforms: its decoded pixels, and its body features. */
  cacheKey(index: number): string {
    return `${this.sourceKey(index)}|${this.itemTfms.map((t) => (t.config ? JSON.stringify(t.config) : t.name)).join('+')}`;
  }

  private sourceKey(index: number): string {
    const { file, mtimeMs, bytes, buffer } = this.items[index]!;
    return buffer ? `buffer:${createHash('sha1').update(buffer).digest('hex')}` : `${file}|${mtimeMs}|${bytes}`;
  }

  /**
   * The item's pixels after the item transforms of `split`, or undefined when it is bad
   * and bad images are skipped. Deterministic transforms are cached after they run;
   * random ones run on the cached full-size decode, drawing from `rng`.
   */
  async load(index: number, split: DatasetSplit = 'valid', rng?: Rng): Promise<Uint8Array | undefined> {
    if (this.bad.has(index)) return undefined;
    const item = this.items[index]!;
    try {
      if (!this.isRandom(split)) {
        return await this.cache.get(this.cacheKey(index), this.imageBytes, async () => this.transform(await this.decode(index), split, noDraws));
      }
      if (!rng) throw new Error(`fastvision: item transforms on the ${split} set are random; load() needs an rng`);
      const full = unpack(await this.cache.get(`${this.sourceKey(index)}|full`, undefined, async () => pack(await this.decode(index))));
      return this.transform(full, split, rng);
    } catch (err) {
      if (!(err instanceof BadImageError)) throw err;
      if (this.onBadImage !== 'skip') throw new BadImageError(item.file, `${err.reason} (${item.origin})`);
      if (!this.bad.has(index)) {
        this.bad.add(index);
        this.skipped.push({ file: item.file, origin: item.origin, reason: err.reason });
      }
      return undefined;
    }
  }

  private decode(index: number): Promise<Pixels> {
    const item = this.items[index]!;
    return decodePixels(item.buffer ?? item.file, { limitInputPixels: this.limitInputPixels, allowVector: this.allowVector });
  }

  private transform(img: Pixels, split: DatasetSplit, rng: Rng): Uint8Array {
    let out = img;
    for (const t of this.itemTfms) out = t.apply(out, split, rng);
    if (out.width !== this.size[1] || out.height !== this.size[0] || out.channels !== 3) {
      throw new FastvisionError('BAD_OPTION', `fastvision: the item transforms [${this.itemTfms.map((t) => t.name).join(', ')}] gave a ${out.height}x${out.width}x${out.channels} image, expected ${this.size.join('x')}x3: a transform after the last resize changed the size`);
    }
    return out.data;
  }
}

const noDraws: Rng = () => {
  throw new Error('fastvision: a deterministic item transform drew a random number');
};

/** Full-size pixels as one cacheable array: width and height (uint32) then the pixels. */
function pack(img: Pixels): Uint8Array {
  const out = new Uint8Array(8 + img.data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, img.width, true);
  view.setUint32(4, img.height, true);
  out.set(img.data, 8);
  return out;
}

function unpack(data: Uint8Array): Pixels {
  const view = new DataView(data.buffer, data.byteOffset, 8);
  const [width, height] = [view.getUint32(0, true), view.getUint32(4, true)];
  if (data.length !== 8 + width * height * 3) throw new BadImageError('<cache>', 'a cached full-size image has the wrong length');
  return { data: data.subarray(8), width, height, channels: 3 };
}
