import * as tf from '@tensorflow/tfjs';
import type { Batch, DataLoader } from '../data/dataLoader.js';
import { splitAtHead, type HeadSplit } from './headSplit.js';
import { FeatureStore, type FeatureCacheOptions } from './featureStore.js';

export type { FeatureCacheOptions };

/** What the cache did in the current generation of body weights. */
export interface FeatureCacheStats {
  /** Items whose features came from the cache. */
  hits: number;
  /** Items whose features the body computed (and the cache stored). */
  misses: number;
  /** Items cached, in memory and on disk. */
  items: number;
  memoryBytes: number;
  spilled: number;
  dropped: number;
}

/**
 * Body features computed once per item and image size, for training only the head
 * while the body is a fixed function of the image (frozen, BatchNorm weights not
 * trained, BatchNorm in inference mode, no random augmentation). Batches come in the
 * DataLoader's own order, so training on them is the same computation as training
 * the whole model, minus the body's forward pass. A Learner makes one (its
 * `featureCache` option) and uses it by itself; `learn.featureCache.stats` says what
 * it did.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { trainBn: false, cbs: [new BnFreeze()] });
 * await learn.fitOneCycle(2, 1e-3);       // epoch 1 runs the body once per image
 * console.log(learn.featureCache?.stats); // { hits, misses, items, memoryBytes, ... }
 * ```
 */
export class FeatureCache {
  private readonly store: FeatureStore;
  private split: HeadSplit | string | undefined;
  private generation = '';
  hits = 0;
  misses = 0;

  /** @param opts Where features are kept: a memory budget (default 1 GiB) and a spill directory (default a temp folder). */
  constructor(opts: FeatureCacheOptions = {}) {
    this.store = new FeatureStore(opts);
  }

  /**
   * The body/head split of `model`, or why there is none. Computed once.
   * @internal
   */
  splitFor(model: tf.LayersModel, headLayers: readonly tf.layers.Layer[]): HeadSplit | string {
    this.split ??= splitAtHead(model, headLayers);
    return this.split;
  }

  /**
   * Empties the cache when the body's weights (or the normalisation) differ from those its features came from.
   * @internal
   */
  sync(body: tf.LayersModel, extra: string): void {
    const generation = `${fingerprint(body)}|${extra}`;
    if (generation === this.generation) return;
    this.store.clear();
    this.generation = generation;
    this.hits = 0;
    this.misses = 0;
  }

  get stats(): FeatureCacheStats {
    const { size: items, memoryBytes, spilled, dropped } = this.store;
    return { hits: this.hits, misses: this.misses, items, memoryBytes, spilled, dropped };
  }

  clear(): void {
    this.store.clear();
    this.generation = '';
  }

  /**
   * One pass over `dl` with `x` replaced by body features, in the loader's order.
   * Items already cached are not decoded; the others are loaded as usual, run through
   * the body once and stored. The caller owns each batch's tensors.
   * @internal
   */
  async *batches(dl: DataLoader, body: tf.LayersModel): AsyncGenerator<Batch, void, undefined> {
    const key = (i: number) => dl.dataset.cacheKey(i);
    const { height, width } = dl.dataset.spec;
    const size = `${height}x${width}`;
    for (const order of dl.batchOrder()) {
      const fresh = new Map<number, Float32Array>();
      const missing = order.filter((i) => !this.store.has(key(i)));
      if (missing.length) {
        for await (const batch of dl.batchesOf([missing])) {
          // Stock inference, not FusedInference: the features must be the ones the whole
          // model computes with BnFreeze. Folded BatchNorm differs by rounding, which two
          // epochs of training amplified to 3e-4 in the head's weights (measured).
          const features = tf.tidy(() => body.predict(batch.x) as tf.Tensor);
          const values = features.dataSync() as Float32Array;
          const per = values.length / batch.indices.length;
          this.itemShapes.set(size, features.shape.slice(1));
          batch.indices.forEach((i, k) => {
            const item = values.slice(k * per, (k + 1) * per);
            fresh.set(i, item);
            this.store.set(key(i), item);
          });
          tf.dispose([batch.x, batch.y, features]);
        }
        this.misses += fresh.size;
      }
      // Items found bad while loading (onBadImage: 'skip') are left out, as the loader does.
      const indices = order.filter((i) => fresh.has(i) || this.store.has(key(i)));
      if (!indices.length) continue;
      this.hits += indices.length - fresh.size;
      const shape = this.itemShapes.get(size)!;
      const per = shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(per * indices.length);
      indices.forEach((i, k) => {
        const item = fresh.get(i);
        if (item) values.set(item, k * per);
        else this.store.readInto(key(i), values, k * per);
      });
      const batchShape: number[] = [indices.length, ...shape];
      const x: tf.Tensor = tf.tensor(values, batchShape);
      yield { x: x as tf.Tensor4D, y: dl.targets(indices), indices };
    }
  }

  /** Each image size's feature shape (`[h, w, c]` for a conv body). */
  private readonly itemShapes = new Map<string, number[]>();
}

/** FNV-1a over every weight's bits: changes whenever any weight (or running statistic) does. */
function fingerprint(model: tf.LayersModel): string {
  let h = 0x811c9dc5;
  for (const w of model.weights) {
    const values = w.read().dataSync() as Float32Array;
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i]!, 0x01000193);
  }
  return (h >>> 0).toString(16);
}
