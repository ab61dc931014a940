import * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';

/**
 * A validation metric, accumulated batch by batch (fastai's `Metric`). fastvision's
 * metrics accumulate on the backend and read the result once, in `value()`: reading
 * every batch would stall a GPU once per batch.
 */
export interface Metric {
  /** Column name in the epoch table. */
  readonly name: string;
  reset(): void;
  accumulate(pred: tf.Tensor, targ: tf.Tensor): void;
  /** The value over everything accumulated since `reset`. */
  value(): number | Promise<number>;
}

/** A running sum kept on the backend: `add` allocates nothing that outlives it, `read` transfers once. */
class DeviceSum {
  private sum: tf.Tensor | undefined;

  add(t: tf.Tensor): void {
    const next = this.sum ? tf.tidy(() => tf.add(this.sum!, t)) : t.clone();
    this.sum?.dispose();
    this.sum = tf.keep(next);
  }

  async read(): Promise<Float32Array | undefined> {
    return this.sum ? ((await this.sum.data()) as Float32Array) : undefined;
  }

  reset(): void {
    this.sum?.dispose();
    this.sum = undefined;
  }
}

/** A function of one batch's outputs and targets that returns a scalar. */
export type MetricFn = (pred: tf.Tensor, targ: tf.Tensor) => tf.Scalar;

/**
 * fastai's `AvgMetric`: `fn` averaged over batches, weighted by batch size.
 *
 * @param fn - The per-batch metric.
 * @param name - Its column in the epoch table.
 *
 * @example
 * ```ts
 * const meanProb = avgMetric((pred) => tf.tidy(() => tf.mean(tf.max(tf.softmax(pred), -1))) as tf.Scalar, 'mean_prob');
 * const learn = await visionLearner(dls, resnet34, { metrics: [errorRate, meanProb] });
 * ```
 */
export function avgMetric(fn: MetricFn, name: string): Metric {
  const total = new DeviceSum();
  let count = 0;
  return {
    name,
    reset() {
      total.reset();
      count = 0;
    },
    accumulate(pred, targ) {
      const bs = targ.shape[0]!;
      const weighted = tf.tidy(() => tf.mul(fn(pred, targ), bs));
      total.add(weighted);
      weighted.dispose();
      count += bs;
    },
    value: async () => ((await total.read())?.[0] ?? Number.NaN) / count,
  };
}

/**
 * Share of items whose argmax is the target.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [accuracy] });
 * ```
 */
export const accuracy: MetricFn = (pred, targ) => tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(pred, -1), tf.cast(targ, 'int32')), 'float32')) as tf.Scalar);

/**
 * 1 − accuracy.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [errorRate] });
 * ```
 */
export const errorRate: MetricFn = (pred, targ) => tf.tidy(() => tf.sub(1, accuracy(pred, targ)) as tf.Scalar);

/**
 * Multi-label accuracy: share of (item, class) pairs where `sigmoid(pred) > thresh` matches the target.
 *
 * @param thresh - Probability above which a class counts as predicted. Default 0.5.
 * @param sigmoid - Apply sigmoid to the outputs first (they are logits). Default true.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [accuracyMulti(0.3)] });   // multi-label
 * ```
 */
export function accuracyMulti(thresh = 0.5, sigmoid = true): MetricFn {
  const fn: MetricFn = (pred, targ) =>
    tf.tidy(() => {
      const p = sigmoid ? tf.sigmoid(pred) : pred;
      return tf.mean(tf.cast(tf.equal(tf.greater(p, thresh), tf.greater(targ, 0.5)), 'float32')) as tf.Scalar;
    });
  // Named as fastai prints it; a bundler may rename the function itself.
  Object.defineProperty(fn, 'name', { value: 'accuracy_multi' });
  return fn;
}

/** Options of the precision / recall / F1 metrics, as sklearn's. */
export interface AveragedMetricOptions {
  /** `'binary'` scores class `posLabel`; `'macro'` averages over classes. Default `'binary'`. */
  average?: 'binary' | 'macro';
  /** The positive class index for `'binary'`. Default 1. */
  posLabel?: number;
}

/** True positives, false positives and false negatives per class, from argmax predictions. */
/** Per class, summed on the backend: [true positives, predicted, actual]. */
type CountFn = (pred: tf.Tensor, targ: tf.Tensor) => tf.Tensor;

function countMetric(name: string, score: (tp: number, fp: number, fn: number) => number, average: 'binary' | 'macro' | 'micro', posLabel: number, counter: CountFn): Metric {
  const counts = new DeviceSum();
  return {
    name,
    reset() {
      counts.reset();
    },
    accumulate(pred, targ) {
      const batch = counter(pred, targ);
      counts.add(batch);
      batch.dispose();
    },
    async value() {
      const v = await counts.read();
      if (!v) return Number.NaN;
      const c = v.length / 3;
      const of = (k: number) => [v[k]!, v[c + k]! - v[k]!, v[2 * c + k]! - v[k]!] as const; // tp, fp, fn
      if (average === 'binary') return score(...of(posLabel));
      if (average === 'micro') {
        const sums = [0, 0, 0] as [number, number, number];
        for (let k = 0; k < c; k++) of(k).forEach((x, j) => (sums[j]! += x));
        return score(...sums);
      }
      const scores = Array.from({ length: c }, (_, k) => score(...of(k)));
      return scores.reduce((a, b) => a + b, 0) / scores.length;
    },
  };
}

/** Single-label counts: the argmax is the predicted class. */
const singleLabelCounts =
  (name: string): CountFn =>
  (pred, targ) => {
    if (targ.rank > 1) throw new FastvisionError('BAD_OPTION', `${name} is for single-label data; for multi-label targets use ${name}Multi`);
    return tf.tidy(() => {
      const c = pred.shape[pred.shape.length - 1]!;
      const predicted = tf.oneHot(tf.argMax(pred, -1), c);
      const actual = tf.oneHot(tf.cast(targ, 'int32'), c);
      return tf.stack([tf.sum(tf.mul(predicted, actual), 0), tf.sum(predicted, 0), tf.sum(actual, 0)]);
    });
  };

/** Multi-label counts: every class whose probability passes `thresh` is predicted. */
const multiLabelCounts =
  (thresh: number, sigmoid: boolean): CountFn =>
  (pred, targ) =>
    tf.tidy(() => {
      const predicted = tf.cast(tf.greater(sigmoid ? tf.sigmoid(pred) : pred, thresh), 'float32');
      const actual = tf.cast(tf.greater(targ, 0.5), 'float32');
      return tf.stack([tf.sum(tf.mul(predicted, actual), 0), tf.sum(predicted, 0), tf.sum(actual, 0)]);
    });

function confusionMetric(name: string, score: (tp: number, fp: number, fn: number) => number, opts: AveragedMetricOptions): Metric {
  const { average = 'binary', posLabel = 1 } = opts;
  const fastaiName = { precision_score: 'Precision', recall_score: 'Recall', f1_score: 'F1Score' }[name] ?? name;
  return countMetric(name, score, average, posLabel, singleLabelCounts(fastaiName));
}

/** Options of the multi-label precision / recall / F1 metrics, as fastai's `*Multi`. */
export interface MultiLabelMetricOptions {
  /** Probability above which a class counts as predicted. Default 0.5. */
  thresh?: number;
  /** Apply sigmoid to the outputs first (they are logits). Default true. */
  sigmoid?: boolean;
  /** `'macro'` averages the per-class scores (default, as fastai's); `'micro'` pools the counts. */
  average?: 'macro' | 'micro';
}

function multiMetric(name: string, score: (tp: number, fp: number, fn: number) => number, opts: MultiLabelMetricOptions): Metric {
  const { thresh = 0.5, sigmoid = true, average = 'macro' } = opts;
  return countMetric(name, score, average, 0, multiLabelCounts(thresh, sigmoid));
}

const safe = (num: number, den: number) => (den === 0 ? 0 : num / den);

/**
 * Precision (sklearn's `precision_score`), accumulated over the validation set.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [errorRate, Precision({ average: 'macro' })] });
 * ```
 */
export const Precision = (opts: AveragedMetricOptions = {}): Metric => confusionMetric('precision_score', (tp, fp) => safe(tp, tp + fp), opts);
/**
 * Recall (sklearn's `recall_score`).
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [errorRate, Recall({ average: 'macro' })] });
 * ```
 */
export const Recall = (opts: AveragedMetricOptions = {}): Metric => confusionMetric('recall_score', (tp, _fp, fn) => safe(tp, tp + fn), opts);
/**
 * F1 (sklearn's `f1_score`).
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [errorRate, F1Score({ average: 'macro' })] });
 * ```
 */
export const F1Score = (opts: AveragedMetricOptions = {}): Metric => confusionMetric('f1_score', (tp, fp, fn) => safe(2 * tp, 2 * tp + fp + fn), opts);

/**
 * fastai's `PrecisionMulti`: precision of multi-label predictions (classes whose
 * probability passes `thresh`), averaged over classes.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [accuracyMulti(0.3), PrecisionMulti({ thresh: 0.3 })] });
 * ```
 */
export const PrecisionMulti = (opts: MultiLabelMetricOptions = {}): Metric => multiMetric('precision_multi', (tp, fp) => safe(tp, tp + fp), opts);
/**
 * fastai's `RecallMulti`: recall of multi-label predictions, averaged over classes.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [RecallMulti()] });
 * ```
 */
export const RecallMulti = (opts: MultiLabelMetricOptions = {}): Metric => multiMetric('recall_multi', (tp, _fp, fn) => safe(tp, tp + fn), opts);
/**
 * fastai's `F1ScoreMulti`: F1 of multi-label predictions, averaged over classes.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [F1ScoreMulti({ thresh: 0.4 })] });
 * ```
 */
export const F1ScoreMulti = (opts: MultiLabelMetricOptions = {}): Metric => multiMetric('f1_multi', (tp, fp, fn) => safe(2 * tp, 2 * tp + fp + fn), opts);

/** A metric as given to a Learner: a {@link Metric}, or a function averaged per batch. */
export type MetricLike = Metric | MetricFn;

const fnNames = new Map<MetricFn, string>([
  [accuracy, 'accuracy'],
  [errorRate, 'error_rate'],
]);

/**
 * Turns what a user passes into Metrics, naming functions as fastai's columns (`error_rate`).
 *
 * @param m - A {@link Metric} (returned as is) or a per-batch function (averaged with {@link avgMetric}).
 *
 * @example
 * ```ts
 * toMetric(errorRate).name;   // 'error_rate'
 * ```
 */
export function toMetric(m: MetricLike): Metric {
  if (typeof m !== 'function') return m;
  const name = fnNames.get(m) ?? (m.name ? m.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : 'metric');
  return avgMetric(m, name);
}
