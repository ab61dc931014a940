import { writeLineChart, writeLineCharts } from '../plot/lineChart.js';
import { Callback } from './callback.js';

/**
 * fastai's `AvgSmoothLoss`: an exponential moving average of the training loss,
 * `val ← β·val + (1−β)·loss`, reported debiased as `val / (1 − β^count)`.
 *
 * @example
 * ```ts
 * const s = new SmoothLoss();
 * s.add(1); s.add(0.5);   // debiased running average
 * ```
 */
export class SmoothLoss {
  private val = 0;
  private count = 0;
  constructor(readonly beta = 0.98) {}
  reset(): void {
    this.val = 0;
    this.count = 0;
  }
  add(loss: number): number {
    this.count++;
    this.val = this.beta * this.val + (1 - this.beta) * loss;
    return this.value;
  }
  get value(): number {
    return this.val / (1 - this.beta ** this.count);
  }
}

/**
 * Records training as fastai's `Recorder`: per iteration the learning rate and
 * momentum of the last layer group and the smoothed loss; per epoch
 * `[train_loss, valid_loss, ...metrics]` where train_loss is the smoothed loss at the
 * epoch's end and valid_loss the batch-size-weighted mean.
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(3, 1e-3);
 * learn.recorder.values;                           // [[train_loss, valid_loss, error_rate], ...] per epoch
 * await learn.recorder.plotLoss({ file: 'loss.png' });
 * ```
 */
export class Recorder extends Callback {
  override order = 50;
  readonly smooth = new SmoothLoss();
  /** Per training iteration. */
  lrs: number[] = [];
  moms: number[] = [];
  losses: number[] = [];
  /** Per epoch: `[train_loss, valid_loss, ...metrics]`. */
  values: number[][] = [];
  /** Iteration count at the end of each epoch (for plotting validation losses). */
  iters: number[] = [];
  /** Column names of `values`, after `epoch`. */
  metricNames: string[] = [];
  private epochStart = 0;
  /** Seconds each epoch took. */
  times: number[] = [];

  override beforeFit(): void {
    this.smooth.reset();
    this.lrs = [];
    this.moms = [];
    this.losses = [];
    this.values = [];
    this.iters = [];
    this.times = [];
    this.metricNames = ['train_loss', 'valid_loss', ...this.learn.metrics.map((m) => m.name)];
  }

  override beforeEpoch(): void {
    this.epochStart = performance.now();
  }

  override afterBatch(): void {
    if (!this.learn.training) return;
    const hypers = this.learn.opt.hypers.at(-1)!;
    this.lrs.push(hypers.lr);
    this.moms.push(hypers.mom);
  }

  /**
   * Training losses as the Learner reads them back from the backend (after every step
   * on wasm and cpu, once per epoch on device backends), smoothed into `losses`.
   * @internal
   */
  addLosses(values: readonly number[]): void {
    for (const v of values) this.losses.push(this.smooth.add(v));
  }

  override afterEpoch(): void {
    const valid = this.learn.validResults;
    this.values.push([this.smooth.value, ...(valid ?? [])]);
    this.iters.push(this.losses.length);
    this.times.push((performance.now() - this.epochStart) / 1000);
  }

  /**
   * Training loss (smoothed, per iteration, from `skipStart`) and validation loss (per
   * epoch, at its last iteration), as fastai's `plot_loss`; returns the path.
   */
  plotLoss(opts: { skipStart?: number; withValid?: boolean; file?: string } = {}): Promise<string> {
    const { skipStart = 5, withValid = true, file = 'loss.png' } = opts;
    const train = { name: 'train', x: this.losses.map((_, i) => i).slice(skipStart), y: this.losses.slice(skipStart) };
    const k = this.metricNames.indexOf('valid_loss');
    const valid = { name: 'valid', x: this.iters.map((it) => it - 1), y: this.values.map((v) => v[k]!) };
    const series = withValid && valid.y.every(Number.isFinite) && valid.y.length ? [train, valid] : [train];
    return writeLineChart({ series, xTitle: 'iteration', yTitle: 'loss', title: 'Loss', file });
  }

  /** Learning rate and momentum of the last layer group per iteration, side by side (fastai's `plot_sched`). */
  plotSched(opts: { file?: string } = {}): Promise<string> {
    const x = this.lrs.map((_, i) => i);
    return writeLineCharts(
      [
        { series: [{ name: 'lr', x, y: this.lrs }], xTitle: 'iteration', yTitle: 'learning rate', title: 'lr', width: 360, height: 260 },
        { series: [{ name: 'mom', x, y: this.moms }], xTitle: 'iteration', yTitle: 'momentum', title: 'mom', width: 360, height: 260 },
      ],
      opts.file ?? 'schedule.png',
    );
  }

  /** The last epoch's row, as fastai's `final_record`. */
  get finalRecord(): number[] | undefined {
    return this.values.at(-1);
  }
}
