import type { Learner } from './learner.js';

/**
 * The moments of training a callback can act on, in the order they happen (fastai's events).
 *
 * @example
 * ```ts
 * class Timer extends Callback {
 *   override beforeEpoch() { console.time('epoch'); }
 *   override afterEpoch() { console.timeEnd('epoch'); }
 * }
 * ```
 */
export const events = [
  'beforeFit',
  'beforeEpoch',
  'beforeTrain',
  'beforeBatch',
  'afterLoss',
  'afterBackward',
  'afterStep',
  'afterBatch',
  'afterTrain',
  'beforeValidate',
  'afterValidate',
  'afterEpoch',
  'afterFit',
] as const;

/**
 * One of {@link events}: the names of {@link Callback}'s methods.
 */
export type EventName = (typeof events)[number];

/**
 * Something that acts at named moments of training, as fastai's `Callback`: override
 * any of the event methods. `this.learn` is the learner; callbacks run in `order`.
 * Throw {@link CancelBatchException}, {@link CancelEpochException} or
 * {@link CancelFitException} to skip the rest of a batch, an epoch or the fit.
 *
 * @example
 * ```ts
 * class StopAtLoss extends Callback {
 *   override afterBatch() { if (this.learn.loss < 0.05) throw new CancelFitException(); }
 * }
 * await learn.fitOneCycle(10, 1e-3, { cbs: [new StopAtLoss()] });
 * ```
 */
export abstract class Callback {
  /** Lower runs first. */
  order = 0;
  /** Set by the learner before `beforeFit`. */
  learn!: Learner;
  /** Once, before the first epoch. */
  beforeFit?(): void | Promise<void>;
  /** At the start of every epoch. */
  beforeEpoch?(): void | Promise<void>;
  /** Before the epoch's training batches. */
  beforeTrain?(): void | Promise<void>;
  /** Before each training batch, after it is loaded. */
  beforeBatch?(): void | Promise<void>;
  /** After the training batch's loss is computed (`this.learn.loss`). */
  afterLoss?(): void | Promise<void>;
  /** After the gradients are computed. */
  afterBackward?(): void | Promise<void>;
  /** After the optimizer step. */
  afterStep?(): void | Promise<void>;
  /** After each training batch. */
  afterBatch?(): void | Promise<void>;
  /** After the epoch's training batches. */
  afterTrain?(): void | Promise<void>;
  /** Before validation. */
  beforeValidate?(): void | Promise<void>;
  /** After validation (`this.learn.validResults` is set). */
  afterValidate?(): void | Promise<void>;
  /** At the end of every epoch. */
  afterEpoch?(): void | Promise<void>;
  /** Once, at the end of the fit, even when it was cancelled. */
  afterFit?(): void | Promise<void>;
  /** Skip validation (e.g. the LR finder). */
  runValid?: boolean;
}

/**
 * Skips the rest of this batch (no step); training goes on.
 *
 * @example
 * ```ts
 * class Guard extends Callback {
 *   override afterLoss() { if (this.learn.loss > 100) throw new CancelBatchException(); }
 * }
 * ```
 */
export class CancelBatchException extends Error {}
/**
 * Skips the rest of this epoch's training and goes to validation.
 *
 * @example
 * ```ts
 * class Guard extends Callback {
 *   override afterLoss() { if (this.learn.loss > 100) throw new CancelTrainException(); }
 * }
 * ```
 */
export class CancelTrainException extends Error {}
/**
 * Skips this epoch's validation.
 *
 * @example
 * ```ts
 * class Guard extends Callback {
 *   override afterLoss() { if (this.learn.loss > 100) throw new CancelValidException(); }
 * }
 * ```
 */
export class CancelValidException extends Error {}
/**
 * Ends this epoch; the fit goes on with the next.
 *
 * @example
 * ```ts
 * class Guard extends Callback {
 *   override afterLoss() { if (this.learn.loss > 100) throw new CancelEpochException(); }
 * }
 * ```
 */
export class CancelEpochException extends Error {}
/**
 * Ends the fit (`afterFit` still runs).
 *
 * @example
 * ```ts
 * class Guard extends Callback {
 *   override afterLoss() { if (this.learn.loss > 100) throw new CancelFitException(); }
 * }
 * ```
 */
export class CancelFitException extends Error {}
