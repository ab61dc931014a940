import * as tf from '../core/tf.js';
import { inferenceRunner } from '../engine/inference.js';
import type { Batch, DataLoader } from '../data/dataLoader.js';
import { capabilities } from '../engine/capabilities.js';
import { DeviceFeatureStore } from './deviceFeatureStore.js';
import { splitAtHead, type HeadSplit } from './headSplit.js';
import { FeatureStore, defaultFeatureMemoryBytes, type FeatureCacheOptions } from './featureStore.js';

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
 * it did. On wasm and cpu features are kept in this process (and spill to disk past
 * the budget); on device backends (tfjs-node, GPUs) they stay on the device, so no
 * batch is copied to the host and back.
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
  private readonly deviceStore: DeviceFeatureStore;
  private split: HeadSplit | string | undefined;
  /** The body's weights (by identity) and the extra key the features were computed with. */
  private generation: { weights: object[]; extra: string } | undefined;
  hits = 0;
  misses = 0;

  /** @param opts Where features are kept: a memory budget (default 1 GiB) and a spill directory (default a temp folder). */
  constructor(opts: FeatureCacheOptions = {}) {
    this.store = new FeatureStore(opts);
    this.deviceStore = new DeviceFeatureStore(opts.memoryBytes ?? defaultFeatureMemoryBytes);
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
    const weights = weightIdentity(body);
    const g = this.generation;
    if (g && g.extra === extra && g.weights.length === weights.length && g.weights.every((w, i) => w === weights[i])) return;
    this.clearStores();
    this.generation = { weights, extra };
    this.hits = 0;
    this.misses = 0;
  }

  get stats(): FeatureCacheStats {
    const host = this.store;
    const device = this.deviceStore;
    return {
      hits: this.hits,
      misses: this.misses,
      items: host.size + device.size,
      memoryBytes: host.memoryBytes + device.memoryBytes,
      spilled: host.spilled,
      dropped: host.dropped + device.dropped,
    };
  }

  clear(): void {
    this.clearStores();
    this.generation = undefined;
  }

  private clearStores(): void {
    this.store.clear();
    this.deviceStore.clear();
  }

  /**
   * One pass over `dl` with `x` replaced by body features, in the loader's order.
   * Items already cached are not decoded; the others are loaded as usual, run through
   * the body once and stored. The caller owns each batch's tensors.
   * @internal
   */
  async *batches(dl: DataLoader, body: tf.LayersModel): AsyncGenerator<Batch, void, undefined> {
    yield* capabilities().hostMemory ? this.hostBatches(dl, body) : this.deviceBatches(dl, body);
  }

  /** Features computed for `missing` items, one loader batch at a time. */
  private async *computed(dl: DataLoader, body: tf.LayersModel, missing: number[]): AsyncGenerator<{ indices: number[]; features: tf.Tensor }> {
    if (!missing.length) return;
    // On tfjs, stock inference, not FusedInference: the features must be the ones the
    // whole model computes with BnFreeze; folded BatchNorm differs by rounding, which two
    // epochs of training amplified to 3e-4 in the head's weights (measured). ONNX Runtime
    // folds too, and differs from tfjs by as much, but computes the body ~10× faster.
    const runner = inferenceRunner(body, { fused: false });
    try {
      for await (const batch of dl.batchesOf([missing])) {
        const features = await runner.run(batch.x as tf.Tensor4D);
        tf.dispose([batch.x, batch.y]);
        yield { indices: batch.indices, features };
      }
    } finally {
      runner.dispose();
    }
  }

  /** wasm and cpu: features as float32 arrays in this process (and on disk past the budget). */
  private async *hostBatches(dl: DataLoader, body: tf.LayersModel): AsyncGenerator<Batch, void, undefined> {
    const key = (i: number) => dl.dataset.cacheKey(i);
    const [height, width] = dl.size;
    const size = `${height}x${width}`;
    for (const order of dl.batchOrder()) {
      const fresh = new Map<number, Float32Array>();
      for await (const { indices, features } of this.computed(dl, body, order.filter((i) => !this.store.has(key(i))))) {
        const values = features.dataSync() as Float32Array;
        const per = values.length / indices.length;
        this.itemShapes.set(size, features.shape.slice(1));
        indices.forEach((i, k) => {
          const item = values.slice(k * per, (k + 1) * per);
          fresh.set(i, item);
          this.store.set(key(i), item);
        });
        features.dispose();
      }
      this.misses += fresh.size;
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
      const x: tf.Tensor = tf.tensor(values, [indices.length, ...shape]);
      yield { x: x as tf.Tensor4D, y: dl.targets(indices), indices };
    }
  }

  /** Device backends: features stay tensors on the device; a batch is one stack of kept rows. */
  private async *deviceBatches(dl: DataLoader, body: tf.LayersModel): AsyncGenerator<Batch, void, undefined> {
    const key = (i: number) => dl.dataset.cacheKey(i);
    const store = this.deviceStore;
    for (const order of dl.batchOrder()) {
      const fresh = new Map<number, tf.Tensor>();
      for await (const { indices, features } of this.computed(dl, body, order.filter((i) => !store.has(key(i))))) {
        tf.unstack(features).forEach((row, k) => fresh.set(indices[k]!, row));
        features.dispose();
      }
      this.misses += fresh.size;
      const indices = order.filter((i) => fresh.has(i) || store.has(key(i)));
      try {
        if (!indices.length) continue;
        this.hits += indices.length - fresh.size;
        const x = tf.stack(indices.map((i) => fresh.get(i) ?? store.get(key(i))!));
        yield { x: x as tf.Tensor4D, y: dl.targets(indices), indices };
      } finally {
        // Rows the store took are its own now; the others were only for this batch.
        for (const [i, row] of fresh) if (!store.set(key(i), row)) row.dispose();
      }
    }
  }

  /** Each image size's feature shape (`[h, w, c]` for a conv body). */
  private readonly itemShapes = new Map<string, number[]>();
}

/**
 * The body's weights as the identities of their current data: tfjs gives a variable
 * new data on every write (an optimizer step, a load), so equal identities mean equal
 * values — checked without reading a single weight back from the backend.
 */
function weightIdentity(model: tf.LayersModel): object[] {
  return model.weights.map((w) => w.read().dataId);
}
