import { writeFileAtomic } from '../core/atomicWrite.js';
import * as tf from '@tensorflow/tfjs';
import { Callback, CancelFitException } from './callback.js';
import { formatTime } from './progress.js';

/** Options of the callbacks that watch a metric. */
export interface MonitorOptions {
  /** A column of the epoch table: `'valid_loss'` (default), `'train_loss'` or a metric name. */
  monitor?: string;
  /** Whether lower is better; default: true for losses and error rates, false otherwise. */
  lower?: boolean;
  /** An improvement must beat the best by more than this. Default 0. */
  minDelta?: number;
}

/** fastai's `TrackerCallback`: the monitored value of each epoch, and whether it is the best yet. */
abstract class TrackerCallback extends Callback {
  override order = 60;
  best = Number.NaN;
  protected readonly monitor: string;
  protected readonly lower: boolean;
  protected readonly minDelta: number;

  constructor(opts: MonitorOptions = {}) {
    super();
    this.monitor = opts.monitor ?? 'valid_loss';
    this.lower = opts.lower ?? /loss|error/.test(this.monitor);
    this.minDelta = opts.minDelta ?? 0;
  }

  override beforeFit(): void {
    this.best = this.lower ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  /** The monitored value this epoch and whether it improved on the best (updating it). */
  protected check(): { value: number; improved: boolean } {
    const names = this.learn.recorder.metricNames;
    const k = names.indexOf(this.monitor);
    if (k < 0) throw new Error(`fastvision: cannot monitor '${this.monitor}'; the columns are ${names.join(', ')}`);
    const value = this.learn.recorder.values.at(-1)![k]!;
    const improved = this.lower ? value < this.best - this.minDelta : value > this.best + this.minDelta;
    if (improved) this.best = value;
    return { value, improved };
  }
}

/**
 * Keeps the weights of the best epoch by `monitor` and (with `restoreBest`, default true) puts them back after the fit.
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(10, 1e-3, { cbs: [new SaveModelCallback({ monitor: 'error_rate' })] });
 * ```
 */
export class SaveModelCallback extends TrackerCallback {
  private bestWeights: tf.Tensor[] | undefined;
  bestEpoch = -1;
  /**
   * @param opts - What to monitor (default `valid_loss`), whether lower is better, `minDelta`, and `restoreBest` (load the best weights after the fit; default true).
   */
  constructor(opts: MonitorOptions & { restoreBest?: boolean } = {}) {
    super(opts);
    this.restoreBest = opts.restoreBest ?? true;
  }
  private readonly restoreBest: boolean;

  override afterEpoch(): void {
    if (!this.check().improved) return;
    tf.dispose(this.bestWeights ?? []);
    this.bestWeights = this.learn.model.weights.map((w) => tf.clone(w.read()));
    this.bestEpoch = this.learn.epoch;
  }

  override afterFit(): void {
    if (this.restoreBest && this.bestWeights) {
      this.learn.model.weights.forEach((w, i) => w.write(this.bestWeights![i]!));
      this.learn.logger(`Better model found at epoch ${this.bestEpoch} with ${this.monitor} value: ${this.best}.`);
    }
    tf.dispose(this.bestWeights ?? []);
    this.bestWeights = undefined;
  }
}

/**
 * Stops the fit when `monitor` has not improved for `patience` epochs.
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(20, 1e-3, { cbs: [new EarlyStoppingCallback({ patience: 3 })] });
 * ```
 */
export class EarlyStoppingCallback extends TrackerCallback {
  private wait = 0;
  private readonly patience: number;
  /**
   * @param opts - What to monitor (default `valid_loss`), whether lower is better, `minDelta`, and `patience` (epochs without improvement; default 1).
   */
  constructor(opts: MonitorOptions & { patience?: number } = {}) {
    super(opts);
    this.patience = opts.patience ?? 1;
  }
  override beforeFit(): void {
    super.beforeFit();
    this.wait = 0;
  }
  override afterEpoch(): void {
    if (this.check().improved) this.wait = 0;
    else if (++this.wait >= this.patience) {
      this.learn.logger(`No improvement since epoch ${this.learn.epoch - this.wait}: early stopping`);
      throw new CancelFitException();
    }
  }
}

/**
 * Writes the epoch table to a CSV file (rewritten atomically after every epoch).
 *
 * @example
 * ```ts
 * await learn.fineTune(5, 2e-3, { cbs: [new CSVLogger('history.csv', true)] });   // both phases in one file
 * ```
 */
export class CSVLogger extends Callback {
  override order = 60;
  private rows: string[] = [];
  /**
   * @param file - The CSV to write. Default `'history.csv'`.
   * @param append - Keep the rows of this logger's earlier fits (as fastai's `append`),
   *   so one file holds e.g. both phases of `fineTune`. Default false: each fit starts the file afresh.
   */
  constructor(
    readonly file = 'history.csv',
    readonly append = false,
  ) {
    super();
  }
  override beforeFit(): void {
    if (this.append && this.rows.length) return;
    this.rows = [['epoch', ...this.learn.recorder.metricNames, 'time'].join(',')];
  }
  override async afterEpoch(): Promise<void> {
    const rec = this.learn.recorder;
    this.rows.push([this.learn.epoch, ...rec.values.at(-1)!.map((v) => v.toFixed(6)), formatTime(rec.times.at(-1)!)].join(','));
    await writeFileAtomic(this.file, `${this.rows.join('\n')}\n`);
  }
}
