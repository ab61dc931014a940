import * as tf from '../core/tf.js';

/**
 * Cached body features kept as tensors on the backend, for backends whose data is
 * not in this process (tfjs-node, GPUs): copying each batch's features to the host
 * and back would cost two transfers per batch. Within the memory budget items stay
 * on the device; past it they are not kept (the body recomputes them each epoch) —
 * there is no spill to disk, which would need a host copy.
 */
export class DeviceFeatureStore {
  private readonly items = new Map<string, tf.Tensor>();
  private bytes = 0;
  dropped = 0;

  constructor(private readonly budget: number) {}

  get size(): number {
    return this.items.size;
  }

  get memoryBytes(): number {
    return this.bytes;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  get(key: string): tf.Tensor | undefined {
    return this.items.get(key);
  }

  /** Keeps `item` (taking ownership) when it fits the budget; returns whether it did. */
  set(key: string, item: tf.Tensor): boolean {
    if (this.items.has(key)) return false;
    const size = item.size * 4;
    if (this.bytes + size > this.budget) {
      this.dropped++;
      return false;
    }
    this.items.set(key, tf.keep(item));
    this.bytes += size;
    return true;
  }

  clear(): void {
    tf.dispose([...this.items.values()]);
    this.items.clear();
    this.bytes = 0;
    this.dropped = 0;
  }
}
