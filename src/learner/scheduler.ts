import { Callback } from './callback.js';
import type { Hypers } from './optimizer.js';
import type { Sched } from './schedules.js';

/** One schedule per layer group for each scheduled hyper-parameter. */
export type GroupScheds = Partial<Record<keyof Hypers, Sched[]>>;

/**
 * fastai's `ParamScheduler`: before each training batch, sets every scheduled hyper of
 * every layer group to its schedule at the fraction of training done
 * (`iteration / (epochs · batches per epoch)`).
 *
 * @example
 * ```ts
 * const warm = new ParamScheduler({ lr: learn.layerGroups.map(() => schedLin(1e-5, 1e-3)) });
 * await learn.fit(1, 1e-3, { cbs: [warm] });
 * ```
 */
export class ParamScheduler extends Callback {
  override order = 60;
  constructor(readonly scheds: GroupScheds) {
    super();
  }

  override beforeBatch(): void {
    if (!this.learn.training) return;
    for (const [name, perGroup] of Object.entries(this.scheds) as [keyof Hypers, Sched[]][]) {
      this.learn.opt.setHyper(name, perGroup.map((f) => f(this.learn.pctTrain)));
    }
  }
}
