import * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';

/** Where a training step happened, to name it in a non-finite loss error. */
export interface StepPlace {
  epoch: number;
  iter: number;
  lrs: string;
}

/**
 * The training losses of steps whose values nobody has read yet. On a GPU (or any
 * backend whose data is not in this process) reading a loss forces the device to
 * finish its queue: reading each step's loss would stall the device once per step.
 * The Learner keeps the losses as device scalars here and reads them all at once —
 * at the end of each epoch, or when a callback asks (the LR finder does, every step).
 * On wasm and cpu, where a read is free, it reads after every step.
 */
export class LossLog {
  private pending: { loss: tf.Scalar; place: StepPlace }[] = [];

  /** Keeps `loss` (the log owns it from now on). */
  push(loss: tf.Scalar, place: StepPlace): void {
    this.pending.push({ loss, place });
  }

  get size(): number {
    return this.pending.length;
  }

  /**
   * Reads every pending loss with one transfer, in step order, and frees them.
   * Throws at the first non-finite one unless `allowNonFinite`, naming its step.
   */
  async read(allowNonFinite: boolean): Promise<number[]> {
    if (!this.pending.length) return [];
    const batch = this.pending;
    this.pending = [];
    const stacked = tf.stack(batch.map((p) => p.loss));
    let values: number[];
    try {
      values = Array.from(await stacked.data());
    } finally {
      tf.dispose([stacked, ...batch.map((p) => p.loss)]);
    }
    const bad = allowNonFinite ? -1 : values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      const { epoch, iter, lrs } = batch[bad]!.place;
      throw new FastvisionError('TRAINING', `fastvision: the training loss is ${values[bad]} at epoch ${epoch}, iteration ${iter} (lr ${lrs}); training stopped`);
    }
    return values;
  }

  /** Frees pending losses unread (a fit that ended by an exception). */
  clear(): void {
    tf.dispose(this.pending.map((p) => p.loss));
    this.pending = [];
  }
}
