import { writeFileAtomic } from '../core/atomicWrite.js';
import { Callback, CancelFitException } from './callback.js';
import { formatTime } from './progress.js';
import { FastvisionError } from '../core/errors.js';

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
    if (k < 0) throw new FastvisionError('BAD_OPTION', `fastvision: cannot monitor '${this.monitor}'; the columns are ${names.join(', ')}`);
    const value = this.learn.recorder.values.at(-1)![k]!;
    const improved = this.lower ? value < this.best - this.minDelta : value > this.best + this.minDelta;
    if (improved) this.best = value;
    return { value, improved };
  }
}

/** Options of {@link SaveModelCallback}, with fastai's defaults. */
export interface SaveModelOptions extends MonitorOptions {
  /** The checkpoint's name: `<learn.path>/models/<fname>.safetensors`. Default `'model'`. */
  fname?: string;
  /** Save after every epoch (`true`) or every n epochs, as `<fname>_<epoch>`, instead of only improvements. Default false. */
  everyEpoch?: boolean | number;
  /** Save the optimizer's state too, to resume training. Default false. */
  withOpt?: boolean;
  /** Save at the end of the fit rather than loading the best back. Default false. */
  atEnd?: boolean;
}

/**
 * fastai's `SaveModelCallback`: writes the model to `<learn.path>/models/<fname>.safetensors`
 * whenever `monitor` improves (atomically: a crash leaves the previous best whole), and
 * after the fit loads the best back. With `everyEpoch` it saves every (n-th) epoch as
 * `<fname>_<epoch>` instead; with `atEnd` it saves once, after the fit. Checkpoints are
 * on disk, so a killed run keeps its best epoch: `learn.load(fname)` gets it back.
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(10, 1e-3, { cbs: [new SaveModelCallback({ monitor: 'error_rate', fname: 'best' })] });
 * ```
 */
export class SaveModelCallback extends TrackerCallback {
  bestEpoch = -1;
  private readonly fname: string;
  private readonly everyEpoch: number;
  private readonly withOpt: boolean;
  private readonly atEnd: boolean;

  /** @param opts - What to monitor (default `valid_loss`), `fname` (default `'model'`), `everyEpoch`, `withOpt`, `atEnd`. */
  constructor(opts: SaveModelOptions = {}) {
    super(opts);
    this.fname = opts.fname ?? 'model';
    if (!/^[\w.-]+$/.test(this.fname)) throw new FastvisionError('BAD_OPTION', `SaveModelCallback fname '${this.fname}' must be a plain file name (letters, digits, '.', '-', '_')`);
    const every = opts.everyEpoch ?? false;
    this.everyEpoch = every === true ? 1 : every === false ? 0 : every;
    if (!(Number.isInteger(this.everyEpoch) && this.everyEpoch >= 0)) throw new FastvisionError('BAD_OPTION', `SaveModelCallback everyEpoch must be true, false or a whole number of epochs, got ${String(opts.everyEpoch)}`);
    this.withOpt = opts.withOpt ?? false;
    this.atEnd = opts.atEnd ?? false;
  }

  override async afterEpoch(): Promise<void> {
    if (this.everyEpoch) {
      if (this.learn.epoch % this.everyEpoch === 0) await this.learn.save(`${this.fname}_${this.learn.epoch}`, { withOpt: this.withOpt });
      return;
    }
    if (!this.check().improved) return;
    this.bestEpoch = this.learn.epoch;
    if (!this.atEnd) await this.learn.save(this.fname, { withOpt: this.withOpt });
  }

  override async afterFit(): Promise<void> {
    if (this.atEnd) {
      await this.learn.save(this.fname, { withOpt: this.withOpt });
    } else if (!this.everyEpoch && this.bestEpoch >= 0) {
      await this.learn.load(this.fname);
      this.learn.logger(`Better model found at epoch ${this.bestEpoch} with ${this.monitor} value: ${this.best}.`);
    }
  }
}

/**
 * fastai's `ReduceLROnPlateau`: when `monitor` has not improved for `patience` epochs,
 * divides every layer group's learning rate by `factor` (not below `minLr`) and says so.
 *
 * @example
 * ```ts
 * await learn.fit(20, 1e-3, { cbs: [new ReduceLROnPlateau({ patience: 2, factor: 10 })] });
 * ```
 */
export class ReduceLROnPlateau extends TrackerCallback {
  private wait = 0;
  private readonly patience: number;
  private readonly factor: number;
  private readonly minLr: number;

  /** @param opts - What to monitor (default `valid_loss`), `patience` (default 1), `factor` (default 10), `minLr` (default 0). */
  constructor(opts: MonitorOptions & { patience?: number; factor?: number; minLr?: number } = {}) {
    super(opts);
    this.patience = opts.patience ?? 1;
    this.factor = opts.factor ?? 10;
    this.minLr = opts.minLr ?? 0;
    if (!(this.factor > 1)) throw new FastvisionError('BAD_OPTION', `ReduceLROnPlateau factor must be > 1, got ${this.factor}`);
  }

  override beforeFit(): void {
    super.beforeFit();
    this.wait = 0;
  }

  override afterEpoch(): void {
    if (this.check().improved) {
      this.wait = 0;
      return;
    }
    this.wait++;
    if (this.wait < this.patience) return;
    this.wait = 0;
    const old = this.learn.opt.hypers.map((h) => h.lr);
    const next = old.map((lr) => Math.max(lr / this.factor, this.minLr));
    this.learn.opt.setHyper('lr', next);
    if (next.some((lr, i) => lr !== old[i])) this.learn.logger(`Epoch ${this.learn.epoch}: reducing lr to ${next.at(-1)}`);
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
