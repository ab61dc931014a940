import { formatTime, progressBar, type Progress } from '../core/progress.js';
import { Callback } from './callback.js';
import { LRFinder } from './lrFinder.js';

export { formatTime } from '../core/progress.js';

/**
 * The per-epoch table, printed as fastai prints it in a console
 * (`epoch  train_loss  valid_loss  <metrics>  time`, floats to 6 decimals), and
 * progress over each epoch's training and validation batches: a bar on a terminal,
 * a line every few seconds otherwise (`env.progressInterval`). Under the LR finder,
 * one bar over its iterations instead.
 *
 * `progress: false` on the learner or the fit, or `env.progress = false`
 * (`FASTVISION_QUIET=1`), silences the progress; the table is the learner's `logger`.
 *
 * @example
 * ```ts
 * // Every learner has one; to silence the table, give the learner a logger:
 * const learn = await visionLearner(dls, resnet34, { logger: () => {} });
 * // and to silence the bars and lines:
 * const quiet = await visionLearner(dls, resnet34, { progress: false });
 * ```
 */
export class ProgressCallback extends Callback {
  // Right after the Recorder (50), before trackers (60) that may end the fit after an epoch.
  override order = 55;
  private names: string[] = [];
  private bar: Progress | undefined;
  private finder: LRFinder | undefined;
  private validDone = 0;

  override beforeFit(): void {
    const columns = ['epoch', ...this.learn.recorder.metricNames, 'time'];
    // fastprogress pads names to 8 characters and joins them with two spaces.
    this.names = columns.map((n) => (n.length < 8 ? n.padEnd(8) : n));
    this.learn.logger(this.names.join('  '));
    // The LR finder's fit runs a few epochs of numIt iterations in all: one bar over those.
    this.finder = this.learn.callbacks.find((cb): cb is LRFinder => cb instanceof LRFinder);
    if (this.finder) this.start('lrFind', this.finder.numIt);
  }

  override beforeTrain(): void {
    if (!this.finder) this.start(`epoch ${this.learn.epoch + 1}/${this.learn.nEpoch} training`, this.learn.nIter);
  }

  override beforeValidate(): void {
    this.validDone = 0;
    if (!this.finder) this.start(`epoch ${this.learn.epoch + 1}/${this.learn.nEpoch} validating`, this.learn.dls.valid.length);
  }

  override afterBatch(): void {
    if (this.learn.training) this.bar?.update(this.finder ? this.learn.trainIter : this.learn.iter + 1);
    else this.bar?.update(++this.validDone);
  }

  override afterTrain(): void {
    if (!this.finder) this.end();
  }

  override afterValidate(): void {
    if (!this.finder) this.end();
  }

  override afterEpoch(): void {
    const rec = this.learn.recorder;
    const row = [String(this.learn.epoch), ...rec.values.at(-1)!.map((v) => v.toFixed(6)), formatTime(rec.times.at(-1)!)];
    this.learn.logger(row.map((t, i) => t + ' '.repeat(Math.max(0, 2 + this.names[i]!.length - t.length))).join(''));
  }

  // Whatever ended the fit (the LR finder's cancel skips afterTrain's usual place), no bar outlives it.
  override afterFit(): void {
    this.end();
    this.finder = undefined;
  }

  private start(label: string, total: number): void {
    this.end();
    this.bar = progressBar(label, total, { show: this.learn.showsProgress(), transient: true });
  }

  private end(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
