import * as tf from '../core/tf.js';

/**
 * A loss with what fastai attaches to it: the activation that turns outputs into
 * probabilities, and how probabilities become predictions.
 */
export interface LossFunc {
  name: string;
  /** `reduction: 'none'` gives one loss per item. */
  (pred: tf.Tensor, targ: tf.Tensor, reduction?: 'mean' | 'none'): tf.Tensor;
  activation(pred: tf.Tensor): tf.Tensor;
  decodes(probs: tf.Tensor): tf.Tensor;
  /**
   * Present when the loss is the mean softmax cross-entropy against some `[batch,
   * classes]` targets whose rows sum to 1: those targets for `targ`. A training step
   * compiled to ONNX computes such losses (one-hot, label smoothing, MixUp); others
   * train on tfjs.
   */
  softTargets?(targ: tf.Tensor, classes: number): tf.Tensor2D;
  /**
   * Present when the loss is fastai's BCE-with-logits (mean over items and classes)
   * against some `[batch, classes]` targets: those targets for `targ`, for a compiled step.
   */
  sigmoidTargets?(targ: tf.Tensor, classes: number): tf.Tensor2D;
}

/**
 * fastai's `CrossEntropyLossFlat`: softmax cross-entropy over int32 class indices; activation softmax, decodes argmax.
 *
 * @example
 * ```ts
 * const learn = new Learner(dls, model, { lossFunc: crossEntropyLossFlat() });   // the default for single-label data
 * ```
 */
export function crossEntropyLossFlat(): LossFunc {
  const loss = (pred: tf.Tensor, targ: tf.Tensor, reduction: 'mean' | 'none' = 'mean') =>
    tf.tidy(() => {
      const c = pred.shape[pred.shape.length - 1]!;
      const logits = pred.reshape([-1, c]);
      const perItem = tf.neg(tf.sum(tf.mul(tf.oneHot(targ.reshape([-1]).toInt(), c), tf.logSoftmax(logits)), -1));
      return reduction === 'mean' ? tf.mean(perItem) : perItem;
    });
  return named(loss, 'FlattenedLoss of CrossEntropyLoss()', {
    activation: (pred: tf.Tensor) => tf.softmax(pred),
    decodes: (probs: tf.Tensor) => tf.argMax(probs, -1),
    softTargets: (targ: tf.Tensor, c: number) => tf.tidy(() => tf.oneHot(targ.reshape([-1]).toInt(), c).toFloat() as tf.Tensor2D),
  });
}

/** A loss function with fastai's name for it (what `learn.summary()` prints) and its activation and decoding. */
function named(loss: (pred: tf.Tensor, targ: tf.Tensor, reduction?: 'mean' | 'none') => tf.Tensor, name: string, parts: Omit<LossFunc, 'name' | keyof CallableFunction>): LossFunc {
  Object.defineProperty(loss, 'name', { value: name });
  return Object.assign(loss, parts) as LossFunc;
}

/**
 * fastai's `BCEWithLogitsLossFlat`: per-class sigmoid cross-entropy on multi-hot targets; decodes `> thresh`.
 *
 * @param thresh - Probability above which a class is predicted. Default 0.5.
 *
 * @example
 * ```ts
 * const learn = new Learner(dls, model, { lossFunc: bceWithLogitsLossFlat(0.3) });   // multi-label data
 * ```
 */
export function bceWithLogitsLossFlat(thresh = 0.5): LossFunc {
  const loss = (pred: tf.Tensor, targ: tf.Tensor, reduction: 'mean' | 'none' = 'mean') =>
    tf.tidy(() => {
      // max(x, 0) − x·t + log(1 + e^−|x|): stable for large |x|.
      const x = pred;
      const elementwise = tf.add(tf.sub(tf.relu(x), tf.mul(x, targ)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
      return reduction === 'mean' ? tf.mean(elementwise) : tf.mean(elementwise, -1);
    });
  return named(loss, 'FlattenedLoss of BCEWithLogitsLoss()', {
    thresh,
    sigmoidTargets: (targ: tf.Tensor, c: number) => tf.tidy(() => targ.reshape([-1, c]).toFloat() as tf.Tensor2D),
    activation: (pred: tf.Tensor) => tf.sigmoid(pred),
    decodes: (probs: tf.Tensor) => tf.greater(probs, thresh),
  } as Omit<LossFunc, 'name' | keyof CallableFunction>);
}

/**
 * fastai's `LabelSmoothingCrossEntropy(eps=0.1)`: cross-entropy against targets that
 * put `1 − eps` on the true class and spread `eps` over all classes:
 * `loss = eps · mean_c(−log p_c) + (1 − eps) · nll(log p, y)`, per item then averaged.
 *
 * @param eps - The share of the target spread over the classes. Default 0.1.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { lossFunc: labelSmoothingCrossEntropy(0.1) });
 * ```
 */
export function labelSmoothingCrossEntropy(eps = 0.1): LossFunc {
  const loss = (pred: tf.Tensor, targ: tf.Tensor, reduction: 'mean' | 'none' = 'mean') =>
    tf.tidy(() => {
      const c = pred.shape[pred.shape.length - 1]!;
      const logPreds = tf.logSoftmax(pred.reshape([-1, c]));
      const smooth = tf.div(tf.neg(tf.sum(logPreds, -1)), c);
      const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(targ.reshape([-1]).toInt(), c), logPreds), -1));
      const perItem = tf.add(tf.mul(smooth, eps), tf.mul(nll, 1 - eps));
      return reduction === 'mean' ? tf.mean(perItem) : perItem;
    });
  return named(loss, 'LabelSmoothingCrossEntropy()', {
    activation: (pred: tf.Tensor) => tf.softmax(pred),
    decodes: (probs: tf.Tensor) => tf.argMax(probs, -1),
    // eps·mean_c(−log p_c) + (1 − eps)·nll is cross-entropy against (1 − eps)·onehot + eps/c.
    softTargets: (targ: tf.Tensor, c: number) => tf.tidy(() => tf.add(tf.mul(tf.oneHot(targ.reshape([-1]).toInt(), c).toFloat(), 1 - eps), eps / c) as tf.Tensor2D),
  });
}
