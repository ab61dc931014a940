import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomicWrite.js';
import { FastvisionError } from '../core/errors.js';

/** Where decoded images are kept between epochs and runs. */
export interface CacheOptions {
  /** Bytes of decoded images kept in memory. Default 2 GiB. */
  memoryBytes?: number;
  /** A directory to also keep them on disk, so later runs skip decoding. Default: none. */
  dir?: string;
}

/** What the cache did: tests and benchmarks read it. */
export interface CacheStats {
  memoryHits: number;
  diskHits: number;
  /** Images decoded (misses everywhere). */
  decodes: number;
  /** Bytes held in memory. */
  memoryBytes: number;
}

/**
 * The default memory budget of an {@link ImageCache}: 2 GiB of decoded pixels.
 *
 * @example
 * ```ts
 * const cache = new ImageCache({ memoryBytes: defaultCacheMemoryBytes / 4 });   // 512 MiB
 * ```
 */
export const defaultCacheMemoryBytes = 2 * 1024 ** 3;

/**
 * Decoded, resized uint8 images keyed by file, mtime, size and resize settings.
 *
 * When the memory budget is full, new images are simply not kept (nothing is
 * evicted): an epoch reads every item in turn, and LRU eviction under that pattern
 * would miss on every read, while keeping what fits gives a steady hit rate.
 *
 * @example
 * ```ts
 * const cache = new ImageCache({ memoryBytes: 1 << 30, dir: '.cache/images' });
 * const dls = await DataLoaders.fromCsv('data/labels.csv', { path: 'data', cache });
 * ```
 */
export class ImageCache {
  readonly stats: CacheStats = { memoryHits: 0, diskHits: 0, decodes: 0, memoryBytes: 0 };
  private readonly memory = new Map<string, Uint8Array>();
  private readonly inFlight = new Map<string, Promise<Uint8Array>>();
  private readonly budget: number;
  private dir: string | undefined;

  /**
   * @param opts - Memory budget in bytes (default {@link defaultCacheMemoryBytes}) and an optional directory for a disk cache.
   */
  constructor(opts: CacheOptions = {}) {
    this.budget = opts.memoryBytes ?? defaultCacheMemoryBytes;
    this.dir = opts.dir;
    if (!(this.budget >= 0)) throw new FastvisionError('BAD_OPTION', `fastvision: cache.memoryBytes must be ≥ 0, got ${String(opts.memoryBytes)}`);
  }

  /** The image for `key`, from memory, then disk, then `decode()`; `bytes` its length when known (a disk file of another length is stale). */
  get(key: string, bytes: number | undefined, decode: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const hit = this.memory.get(key);
    if (hit) {
      this.stats.memoryHits++;
      return Promise.resolve(hit);
    }
    // Two loaders asking for one image (e.g. train and showBatch) share one decode.
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.load(key, bytes, decode).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async load(key: string, bytes: number | undefined, decode: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const file = this.dir ? join(this.dir, `${createHash('sha1').update(key).digest('hex')}.rgb`) : undefined;
    let data = file ? await readExact(file, bytes) : undefined;
    if (data) this.stats.diskHits++;
    else {
      data = await decode();
      this.stats.decodes++;
      if (file) await this.store(file, data);
    }
    if (this.stats.memoryBytes + data.byteLength <= this.budget) {
      this.memory.set(key, data);
      this.stats.memoryBytes += data.byteLength;
    }
    return data;
  }

  /**
   * A disk cache that cannot be written (permissions, a file in the way, a full disk)
   * is a lost speed-up, not a reason to stop training: say so once and go on in memory.
   */
  private async store(file: string, data: Uint8Array): Promise<void> {
    try {
      await writeFileAtomic(file, data);
    } catch (err) {
      if (this.dir === undefined) return;
      console.warn(`${(err as Error).message}; the image cache goes on in memory only (cache.dir '${this.dir}' is not used)`);
      this.dir = undefined;
    }
  }
}

/** The file's bytes if it exists and has exactly `bytes` of them (a torn or stale file is a miss). */
async function readExact(file: string, bytes: number | undefined): Promise<Uint8Array | undefined> {
  try {
    const buf = await readFile(file);
    return bytes === undefined || buf.byteLength === bytes ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : undefined;
  } catch {
    return undefined;
  }
}
