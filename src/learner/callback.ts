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
  'afterPred',
  'afterLoss',
  'beforeBackward',
  'afterCancelBackward',
  'afterBackward',
  'beforeStep',
  'afterCancelStep',
  'afterStep',
  'afterCancelBatch',
  'afterBatch',
  'afterCancelTrain',
  'afterTrain',
  'beforeValidate',
  'afterCancelValidate',
  'afterValidate',
  'afterCancelEpoch',
  'afterEpoch',
  'afterCancelFit',
  'afterFit',
] as const;

/** The events of the batch loop, where `runTrain` / `runValid` apply (fastai's `_inner_loop`). */
export const innerLoopEvents: ReadonlySet<string> = new Set([
  'beforeBatch',
  'afterPred',
  'afterLoss',
  'beforeBackward',
  'afterCancelBackward',
  'afterBackward',
  'beforeStep',
  'afterCancelStep',
  'afterStep',
  'afterCancelBatch',
  'afterBatch',
]);

/**
 * Events fired inside the gradient tape of a training step: a handler must be
 * synchronous there (tensor ops on `learn.pred` / `learn.lossGrad` are then part of
 * what is differentiated, as in fastai).
 */
export const tapeEvents: ReadonlySet<string> = new Set(['afterPred', 'afterLoss', 'beforeBackward']);

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
 *   override async afterBatch() { if ((await this.learn.readLosses()).at(-1)! < 0.05) throw new CancelFitException(); }
 * }
 * await learn.fitOneCycle(10, 1e-3, { cbs: [new StopAtLoss()] });
 * ```
 */
export abstract class Callback {
  /** Lower runs first. */
  order = 0;
  /** Set by the learner before `beforeFit`. */
  learn!: Learner;
  /** Call this callback's batch-loop events during training. Default true (fastai's `run_train`). */
  runTrain = true;
  /** Call this callback's batch-loop events during validation. Default true (fastai's `run_valid`). */
  runValid = true;
  /** Once, before the first epoch. */
  beforeFit?(): void | Promise<void>;
  /** At the start of every epoch. */
  beforeEpoch?(): void | Promise<void>;
  /** Before the epoch's training batches. */
  beforeTrain?(): void | Promise<void>;
  /** Before each batch, after it is loaded: `learn.xb`, `learn.yb` may be replaced (MixUp). */
  beforeBatch?(): void | Promise<void>;
  /** After the forward pass: `learn.pred` may be replaced. Synchronous in training (it runs inside the gradient tape). */
  afterPred?(): void;
  /** After the loss: `learn.lossGrad` (what is differentiated) may be replaced; `learn.loss` is its value. Synchronous in training. */
  afterLoss?(): void;
  /** Just before the backward pass (training only). Synchronous. */
  beforeBackward?(): void;
  /** When a {@link CancelBackwardException} skipped the backward pass. */
  afterCancelBackward?(): void | Promise<void>;
  /** After the gradients are computed: `learn.grads` may be read and replaced (clipping). */
  afterBackward?(): void | Promise<void>;
  /** Before the optimizer step (training only). Throw {@link CancelBatchException} to skip it and keep the gradients (accumulation). */
  beforeStep?(): void | Promise<void>;
  /** When a {@link CancelStepException} skipped the optimizer step. */
  afterCancelStep?(): void | Promise<void>;
  /** After the optimizer step. */
  afterStep?(): void | Promise<void>;
  /** When a {@link CancelBatchException} ended the batch early. */
  afterCancelBatch?(): void | Promise<void>;
  /** After each batch, however it ended. */
  afterBatch?(): void | Promise<void>;
  /** When a {@link CancelTrainException} ended the training phase. */
  afterCancelTrain?(): void | Promise<void>;
  /** After the epoch's training batches, however they ended (progress bars stop here). */
  afterTrain?(): void | Promise<void>;
  /** Before validation. */
  beforeValidate?(): void | Promise<void>;
  /** When a {@link CancelValidException} skipped validation. */
  afterCancelValidate?(): void | Promise<void>;
  /** After validation (`this.learn.validResults` is set). */
  afterValidate?(): void | Promise<void>;
  /** When a {@link CancelEpochException} ended the epoch. */
  afterCancelEpoch?(): void | Promise<void>;
  /** At the end of every epoch, however it ended. */
  afterEpoch?(): void | Promise<void>;
  /** When a {@link CancelFitException} (or an abort signal) ended the fit. */
  afterCancelFit?(): void | Promise<void>;
  /** Once, at the end of the fit, however it ended — even by an error. */
  afterFit?(): void | Promise<void>;
}

/**
 * Skips the rest of this batch (no step); training goes on.
 *
 * @example
 * ```ts
 * class Guard extends Callback {
 *   // Trains on every other batch only.
 *   override beforeBatch() { if (this.learn.training && this.learn.iter % 2) throw new CancelBatchException(); }
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
 *   // A read per batch: fine on the CPU; on a GPU, read less often.
 *   override async afterBatch() { if ((await this.learn.loss!.data())[0]! > 100) throw new CancelTrainException(); }
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
 *   // Validates every fifth epoch only.
 *   override beforeValidate() { if (this.learn.epoch % 5 !== 4) throw new CancelValidException(); }
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
 *   // A read per batch: fine on the CPU; on a GPU, read less often.
 *   override async afterBatch() { if ((await this.learn.loss!.data())[0]! > 100) throw new CancelEpochException(); }
 * }
 * ```
 */
export class CancelEpochException extends Error {}
/**
 * Skips the backward pass of this batch (`afterCancelBackward`); the step still runs.
 *
 * @example
 * ```ts
 * class NoBackward extends Callback {
 *   override beforeBackward() { throw new CancelBackwardException(); }
 * }
 * ```
 */
export class CancelBackwardException extends Error {}
/**
 * Skips the optimizer step of this batch (`afterCancelStep`); the gradients are then cleared as usual.
 *
 * @example
 * ```ts
 * class NoStep extends Callback {
 *   override beforeStep() { throw new CancelStepException(); }
 * }
 * ```
 */
export class CancelStepException extends Error {}
/**
 * Ends the fit (`afterFit` still runs).
 *
 * @example
 * ```ts
 * class Guard extends Callback {
 *   // A read per batch: fine on the CPU; on a GPU, read less often.
 *   override async afterBatch() { if ((await this.learn.loss!.data())[0]! > 100) throw new CancelFitException(); }
 * }
 * ```
 */
export class CancelFitException extends Error {}
