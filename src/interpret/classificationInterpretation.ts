import * as tf from '../core/tf.js';
import type { Learner } from '../learner/learner.js';
import { writeHeatmap } from '../plot/heatmap.js';
import { writeImageGrid, type GridImage } from '../plot/imageGrid.js';
import { classificationReport, formatClassificationReport, type ClassificationReport } from './report.js';
import { FastvisionError } from '../core/errors.js';

/** An item's pixels (uint8 RGB, HWC) for pictures. */
export type ImageSource = (i: number) => Promise<Omit<GridImage, 'caption'>>;

/** What an interpretation is made of: per item, class probabilities, target, loss; and how to show the item. */
export interface InterpretationData {
  vocab: readonly string[];
  /** `[n][c]` probabilities. */
  probs: readonly (readonly number[])[];
  /** Class index per item. */
  targs: readonly number[];
  /** Loss per item. */
  losses: readonly number[];
  /** Pixels of item i, for the image grids. */
  image?: ImageSource;
}

/** Options of {@link ClassificationInterpretation.plotConfusionMatrix}, with fastai's defaults. */
export interface ConfusionMatrixPlotOptions {
  /** Show row shares (per-class recall) instead of counts. Default false. */
  normalize?: boolean;
  /** Decimals when normalised. Default 2. */
  normDec?: number;
  /** PNG (or SVG) to write. Default `'confusion-matrix.png'`. */
  file?: string;
  /** Default `'Confusion matrix'`. */
  title?: string;
}

/**
 * fastai's `ClassificationInterpretation`: what a classifier gets wrong, as numbers
 * (confusion matrix, most confused pairs, top losses, a classification report) and
 * pictures.
 *
 * @example
 * ```ts
 * const interp = await ClassificationInterpretation.fromLearner(learn);
 * await interp.plotConfusionMatrix({ file: 'cm.png' });
 * await interp.plotTopLosses(9, { file: 'top-losses.png' });
 * ```
 */
export class ClassificationInterpretation {
  readonly vocab: readonly string[];
  readonly probs: readonly (readonly number[])[];
  readonly targs: readonly number[];
  readonly losses: readonly number[];
  /** Predicted class per item (argmax). */
  readonly decoded: readonly number[];
  private readonly image: ImageSource | undefined;

  /**
   * @param data - Vocab, per-item probabilities, targets and losses, and optionally how to draw item i.
   */
  constructor(data: InterpretationData, private readonly learn?: Learner) {
    const n = data.targs.length;
    if (data.probs.length !== n || data.losses.length !== n) {
      throw new FastvisionError('BAD_OPTION', `fastvision: interpretation data disagree: ${data.probs.length} predictions, ${n} targets, ${data.losses.length} losses`);
    }
    this.vocab = data.vocab;
    this.probs = data.probs;
    this.targs = data.targs;
    this.losses = data.losses;
    this.image = data.image;
    this.decoded = data.probs.map(argmax);
  }

  /**
   * Predictions of `learn` over its validation set (or training set, in order), with a
   * progress bar (plain lines off a terminal) unless `progress: false` (default the learner's `progress`).
   */
  static async fromLearner(learn: Learner, opts: { ds?: 'valid' | 'train'; progress?: boolean } = {}): Promise<ClassificationInterpretation> {
    if (learn.dls.multiLabel) {
      throw new FastvisionError(
        'BAD_OPTION',
        'ClassificationInterpretation is for single-label data (a confusion matrix needs one predicted and one actual class per image, as fastai\'s). ' +
          'For multi-label data, use the metrics accuracyMulti, PrecisionMulti, RecallMulti and F1ScoreMulti (per class with average: \'macro\'), ' +
          'and learn.getPreds() for the probabilities, or learn.showResults() to look at predictions',
      );
    }
    const { preds, targs, losses, indices } = await learn.getPreds({ ds: opts.ds ?? 'valid', withLoss: true, progress: opts.progress });
    const data: InterpretationData = {
      vocab: [...learn.dls.vocab],
      probs: (await preds.array()) as number[][],
      targs: Array.from(await targs.data()),
      losses: Array.from(await losses!.data()),
      image: (i) => learn.dls.image(indices[i]!),
    };
    tf.dispose([preds, targs, losses!]);
    return new ClassificationInterpretation(data, learn);
  }

  /** `cm[actual][predicted]` counts in vocab order; with `normalize`, each row divided by its sum. */
  confusionMatrix(opts: { normalize?: boolean } = {}): number[][] {
    const c = this.vocab.length;
    const cm = Array.from({ length: c }, () => new Array<number>(c).fill(0));
    this.targs.forEach((t, i) => cm[t]![this.decoded[i]!]!++);
    if (!opts.normalize) return cm;
    return cm.map((row) => {
      const sum = row.reduce((a, b) => a + b, 0);
      return row.map((v) => (sum === 0 ? 0 : v / sum));
    });
  }

  /** Off-diagonal cells with at least `minVal` items, as `[actual, predicted, count]`, most first. */
  mostConfused(minVal = 1): [string, string, number][] {
    const out: [string, string, number][] = [];
    this.confusionMatrix().forEach((row, a) =>
      row.forEach((count, p) => {
        if (a !== p && count >= minVal) out.push([this.vocab[a]!, this.vocab[p]!, count]);
      }),
    );
    return out.sort((x, y) => y[2] - x[2]);
  }

  /** The `k` largest (or smallest) losses and the items they belong to; ties keep item order. */
  topLosses(k?: number, opts: { largest?: boolean } = {}): { losses: number[]; indices: number[] } {
    const largest = opts.largest ?? true;
    const order = this.losses.map((l, i) => [l, i] as const).sort((a, b) => (largest ? b[0] - a[0] : a[0] - b[0]) || a[1] - b[1]);
    const top = order.slice(0, k ?? order.length);
    return { losses: top.map(([l]) => l), indices: top.map(([, i]) => i) };
  }

  /** Per-class precision, recall, F1 and support, accuracy, macro and weighted averages (sklearn's report). */
  classificationReport(): ClassificationReport {
    return classificationReport(this.confusionMatrix(), this.vocab);
  }

  /** Prints {@link classificationReport} as sklearn does. */
  printClassificationReport(log: (line: string) => void = (l) => console.log(l)): void {
    log(formatClassificationReport(this.classificationReport()));
  }

  /** The confusion matrix as a heatmap PNG, rows Actual, columns Predicted; returns the path. */
  plotConfusionMatrix(opts: ConfusionMatrixPlotOptions = {}): Promise<string> {
    const { normalize = false, normDec = 2, file = 'confusion-matrix.png', title = 'Confusion matrix' } = opts;
    return writeHeatmap({
      rows: this.vocab,
      cols: this.vocab,
      values: this.confusionMatrix({ normalize }),
      decimals: normalize ? normDec : 0,
      rowTitle: 'Actual',
      colTitle: 'Predicted',
      title,
      file,
    });
  }

  /**
   * The `k` worst items as a captioned grid, `prediction/actual / loss / probability`
   * (the predicted class's probability), as fastai v2; returns the path.
   */
  async plotTopLosses(k: number, opts: { file?: string; largest?: boolean } = {}): Promise<string> {
    const { indices } = this.topLosses(k, opts);
    const images = await Promise.all(
      indices.map(async (i) => ({
        ...(await this.imageOf(i)),
        caption: `${this.vocab[this.decoded[i]!]}/${this.vocab[this.targs[i]!]} / ${this.losses[i]!.toFixed(2)} / ${Math.max(...this.probs[i]!).toFixed(2)}`,
      })),
    );
    return writeImageGrid(images, { file: opts.file ?? 'top-losses.png', title: 'Prediction/Actual/Loss/Probability' });
  }

  /**
   * The items the model scores highest for a class — the study's "most metal" grid.
   * `ds: 'all'` (default) scores the training set too (needs the learner this came from).
   */
  async plotTopPredictions(classNameOrIndex: string | number, opts: { k?: number; ds?: 'valid' | 'all'; file?: string } = {}): Promise<string> {
    const { k = 12, ds = 'all', file = 'top-predictions.png' } = opts;
    const cls = typeof classNameOrIndex === 'number' ? classNameOrIndex : this.vocab.indexOf(classNameOrIndex);
    if (!(cls >= 0 && cls < this.vocab.length)) throw new FastvisionError('BAD_OPTION', `fastvision: '${classNameOrIndex}' is not a class; the vocab is ${this.vocab.join(', ')}`);
    const pools: ClassificationInterpretation[] = [this];
    if (ds === 'all' && this.learn) pools.push(await ClassificationInterpretation.fromLearner(this.learn, { ds: 'train' }));
    return plotTopPredictions(pools, cls, { k, file });
  }

  private async imageOf(i: number): Promise<Omit<GridImage, 'caption'>> {
    if (!this.image) throw new FastvisionError('BAD_OPTION', 'fastvision: this interpretation has no images to draw (build it with fromLearner, or pass `image`)');
    return this.image(i);
  }

  /** @internal */
  pixelsOf(i: number): Promise<Omit<GridImage, 'caption'>> {
    return this.imageOf(i);
  }
}

/**
 * A grid of the `k` items with the highest probability of class `cls` across one or
 * more prediction sets (e.g. validation and training), captioned `class probability`.
 *
 * @param sets - Interpretations to pool (e.g. of the validation and the training set).
 * @param cls - The class index.
 * @param opts - `k` images (default 12) and the PNG `file`.
 *
 * @example
 * ```ts
 * await plotTopPredictions([interp], interp.vocab.indexOf('metal'), { k: 12, file: 'most-metal.png' });
 * ```
 */
export async function plotTopPredictions(sets: readonly ClassificationInterpretation[], cls: number, opts: { k?: number; file: string }): Promise<string> {
  const scored = sets.flatMap((set) => set.probs.map((p, i) => ({ set, i, prob: p[cls]! })));
  scored.sort((a, b) => b.prob - a.prob);
  const top = scored.slice(0, opts.k ?? 12);
  const label = sets[0]!.vocab[cls]!;
  const images = await Promise.all(top.map(async ({ set, i, prob }) => ({ ...(await set.pixelsOf(i)), caption: `${label} ${prob.toFixed(3)}` })));
  return writeImageGrid(images, { file: opts.file, title: `Most ${label}` });
}

function argmax(row: readonly number[]): number {
  let k = 0;
  row.forEach((v, i) => (v > row[k]! ? (k = i) : 0));
  return k;
}
