import { progressBar, type Progress } from '../core/progress.js';
import { Callback } from './callback.js';

/**
 * mm:ss, as fastai's `format_time`.
 *
 * @param seconds - A duration.
 *
 * @example
 * ```ts
 * formatTime(83);   // '01:23'
 * ```
 */
export function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * The per-epoch table, printed as fastai prints it in a console
 * (`epoch  train_loss  valid_loss  <metrics>  time`, floats to 6 decimals), and a
 * progress bar over each epoch's batches on a terminal.
 *
 * @example
 * ```ts
 * // Every learner has one; to silence the table, give the learner a logger:
 * const learn = await visionLearner(dls, resnet34, { logger: () => {} });
 * ```
 */
export class ProgressCallback extends Callback {
  // Right after the Recorder (50), before trackers (60) that may end the fit after an epoch.
  override order = 55;
  private names: string[] = [];
  private bar: Progress | undefined;

  override beforeFit(): void {
    const columns = ['epoch', ...this.learn.recorder.metricNames, 'time'];
    // fastprogress pads names to 8 characters and joins them with two spaces.
    this.names = columns.map((n) => (n.length < 8 ? n.padEnd(8) : n));
    this.learn.logger(this.names.join('  '));
  }

  override beforeTrain(): void {
    if (process.stderr.isTTY) this.bar = progressBar(`epoch ${this.learn.epoch + 1}/${this.learn.nEpoch}`, this.learn.nIter);
  }

  override afterBatch(): void {
    if (this.learn.training) this.bar?.update(this.learn.iter + 1);
  }

  override afterTrain(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  override afterEpoch(): void {
    const rec = this.learn.recorder;
    const row = [String(this.learn.epoch), ...rec.values.at(-1)!.map((v) => v.toFixed(6)), formatTime(rec.times.at(-1)!)];
    this.learn.logger(row.map((t, i) => t + ' '.repeat(Math.max(0, 2 + this.names[i]!.length - t.length))).join(''));
  }
}
