import { BadImageError, decodeImage, type ResizeSpec } from './image.js';
import type { ImageCache } from './imageCache.js';
import type { ImageItem, SkippedItem } from './items.js';

/** What to do with an image that cannot be read: stop (default) or leave it out and report it. */
export type OnBadImage = 'error' | 'skip';

/**
 * The items of a DataLoaders with their encoded targets, and how to load their pixels.
 * Shared by the training and validation loaders; `withSpec` gives the same items at
 * another size (progressive resizing) over the same cache.
 */
export class ImageDataset {
  constructor(
    readonly items: readonly ImageItem[],
    /** Class index per item, or a multi-hot vector per item for multi-label data. */
    readonly targets: readonly number[] | readonly number[][],
    readonly vocab: readonly string[],
    readonly spec: ResizeSpec,
    readonly cache: ImageCache,
    readonly onBadImage: OnBadImage,
    /** Shared with the DataLoaders, which reports it as `dls.skipped`. */
    readonly skipped: SkippedItem[],
    readonly limitInputPixels: number,
    /** Decode SVG and PDF images too (`allowVector`). */
    readonly allowVector: boolean,
    /** Items found bad while loading, with `onBadImage: 'skip'`; left out from then on, at every size. */
    private readonly bad = new Set<number>(),
  ) {}

  get multiLabel(): boolean {
    return Array.isArray(this.targets[0]);
  }

  get imageBytes(): number {
    return this.spec.height * this.spec.width * 3;
  }

  withSpec(spec: ResizeSpec): ImageDataset {
    const { items, targets, vocab, cache, onBadImage, skipped, limitInputPixels, allowVector, bad } = this;
    return new ImageDataset(items, targets, vocab, spec, cache, onBadImage, skipped, limitInputPixels, allowVector, bad);
  }

  isBad(index: number): boolean {
    return this.bad.has(index);
  }

  cacheKey(index: number): string {
    const { file, mtimeMs, bytes } = this.items[index]!;
    const { height, width, method, padMode } = this.spec;
    return `${file}|${mtimeMs}|${bytes}|${height}x${width}|${method}|${padMode}`;
  }

  /** The item's pixels, or undefined when it is bad and bad images are skipped. */
  async load(index: number): Promise<Uint8Array | undefined> {
    if (this.bad.has(index)) return undefined;
    const item = this.items[index]!;
    try {
      return await this.cache.get(this.cacheKey(index), this.imageBytes, () =>
        decodeImage(item.file, this.spec, { limitInputPixels: this.limitInputPixels, allowVector: this.allowVector }),
      );
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
}
