import * as tf from '@tensorflow/tfjs';
import type { DataLoader } from '../data/dataLoader.js';
import { BadImageError, decodeImage, type ResizeSpec } from '../data/image.js';
import { normalizePixels, type NormStats } from '../data/normalize.js';
import type { Learner } from './learner.js';
import { rng } from '../data/splitters.js';
import { FusedInference } from '../engine/tfjs/fusedInference.js';

/** What a learner needs to predict on its own, without training data (kept in exports). */
export interface InferenceConfig {
  /** Class names; output i of the model is `vocab[i]`. */
  vocab: string[];
  /** Multi-label (sigmoid per class) rather than single-label (softmax). */
  multiLabel: boolean;
  /** How images are sized. */
  resize: ResizeSpec;
  /** Normalisation applied after scaling pixels to [0, 1]; none means `x / 255` only. */
  normalize?: NormStats | undefined;
  /** Multi-label: the probability above which a class is predicted. Default 0.5. */
  thresh?: number;
}

/** Options of `learn.getPreds` ({@link Learner.getPreds}). */
export interface GetPredsOptions {
  /** Which data: `'valid'` (default), `'train'` (in order, every item), or any DataLoader. */
  ds?: 'valid' | 'train' | DataLoader;
  /** Also return each item's loss. */
  withLoss?: boolean;
  /** Also return decoded predictions (class indices; multi-hot for multi-label). */
  withDecoded?: boolean;
}

/** Predictions over a dataset. The caller owns the tensors. */
export interface Preds {
  /** Probabilities (the loss's activation: softmax or sigmoid), `[n, c]`. */
  preds: tf.Tensor2D;
  /** Targets: int32 class indices `[n]`, or multi-hot `[n, c]`. */
  targs: tf.Tensor;
  losses?: tf.Tensor1D;
  decoded?: tf.Tensor;
  /** Dataset indices of the items, in order. */
  indices: number[];
}

/** fastai's `get_preds`: inference mode, no shuffling, every item, in order. */
export async function getPreds(learn: Learner, opts: GetPredsOptions = {}): Promise<Preds> {
  const { ds = 'valid', withLoss = false, withDecoded = false } = opts;
  const dl = ds === 'valid' ? learn.dls.valid : ds === 'train' ? learn.dls.train.with({ shuffle: false, dropLast: false }) : ds;
  const preds: tf.Tensor[] = [];
  const targs: tf.Tensor[] = [];
  const losses: tf.Tensor[] = [];
  const indices: number[] = [];
  const fused = new FusedInference(learn.model);
  try {
    for await (const { x, y, indices: idx } of dl) {
      tf.tidy(() => {
        const out = fused.predict(x);
        preds.push(tf.keep(learn.lossFunc.activation(out)));
        if (withLoss) losses.push(tf.keep(learn.lossFunc(out, y, 'none')));
      });
      targs.push(y);
      indices.push(...idx);
      x.dispose();
    }
  } finally {
    fused.dispose();
  }
  const result: Preds = { preds: concatAndDispose(preds) as tf.Tensor2D, targs: concatAndDispose(targs), indices };
  if (withLoss) result.losses = concatAndDispose(losses) as tf.Tensor1D;
  if (withDecoded) result.decoded = tf.tidy(() => learn.lossFunc.decodes(result.preds));
  return result;
}

function concatAndDispose(parts: tf.Tensor[]): tf.Tensor {
  const out = parts.length === 1 ? parts[0]!.clone() : tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

/** What `learn.predict` ({@link Learner.predict}) says about one image. */
export interface Prediction {
  /** The predicted class (single-label), or the classes over the threshold joined by ';' (multi-label). */
  label: string;
  /** Its index in the vocab (single-label), or -1 (multi-label). */
  index: number;
  /** Predicted labels (one for single-label data). */
  labels: string[];
  /** Probability of each class, in vocab order. */
  probs: number[];
}

/** fastai's `predict`: one image file (or encoded buffer) through the validation pipeline. */
export async function predict(learn: Learner, item: string | Buffer): Promise<Prediction> {
  const cfg = learn.inferenceConfig;
  const pixels = await decodeImage(item, cfg.resize);
  const x = normalizePixels(pixels, [1, cfg.resize.height, cfg.resize.width, 3], cfg.normalize);
  const [probs, decoded] = tf.tidy(() => {
    const p = learn.lossFunc.activation(learn.model.apply(x, { training: false }) as tf.Tensor);
    return [p.dataSync(), learn.lossFunc.decodes(p).dataSync()];
  });
  x.dispose();
  const probList = Array.from(probs!);
  if (cfg.multiLabel) {
    const labels = cfg.vocab.filter((_, k) => decoded![k]! > 0);
    return { label: labels.join(';'), index: -1, labels, probs: probList };
  }
  const index = decoded![0]!;
  return { label: cfg.vocab[index]!, index, labels: [cfg.vocab[index]!], probs: probList };
}

/** What `learn.predictMany` returns: a prediction per image that could be read, and the ones that could not. */
export interface ManyPredictions {
  /** In input order, without the skipped images. */
  predictions: (Prediction & { item: string | Buffer })[];
  /** Images that could not be decoded, with why (only with `onBadImage: 'skip'`). */
  skipped: { item: string | Buffer; reason: string }[];
}

/**
 * `predict` over many images. With `onBadImage: 'skip'` an image that cannot be
 * decoded is reported in `skipped` instead of stopping the run.
 */
export async function predictMany(learn: Learner, items: readonly (string | Buffer)[], opts: { onBadImage?: 'error' | 'skip' } = {}): Promise<ManyPredictions> {
  const out: ManyPredictions = { predictions: [], skipped: [] };
  for (const item of items) {
    try {
      out.predictions.push({ item, ...(await predict(learn, item)) });
    } catch (err) {
      if (opts.onBadImage !== 'skip' || !(err instanceof BadImageError)) throw err;
      out.skipped.push({ item, reason: err.reason });
    }
  }
  return out;
}

/** Options of `learn.tta` ({@link Learner.tta}), with fastai's defaults. */
export interface TtaOptions {
  ds?: 'valid' | 'train' | DataLoader;
  /** Augmented passes. Default 4. */
  n?: number;
  /** Weight of the plain pass: `(1 − beta)·mean(augmented) + beta·plain`. Default 0.25. */
  beta?: number;
  /** Seeds the augmentations. Default 0. */
  seed?: number;
}

/**
 * fastai's test-time augmentation: `n` augmented passes averaged, blended with one
 * plain pass as `lerp(aug, plain, beta)`. fastvision's DataLoaders have no training
 * augmentations, so each pass flips the batch horizontally (every other pass) and
 * crops a random 90–100% of it, resized back. Returns probabilities and targets.
 */
export async function tta(learn: Learner, opts: TtaOptions = {}): Promise<{ preds: tf.Tensor2D; targs: tf.Tensor }> {
  const { ds = 'valid', n = 4, beta = 0.25, seed = 0 } = opts;
  const dl = ds === 'valid' ? learn.dls.valid : ds === 'train' ? learn.dls.train.with({ shuffle: false, dropLast: false }) : ds;
  const random = rng(seed);
  const blended: tf.Tensor[] = [];
  const targs: tf.Tensor[] = [];
  const fused = new FusedInference(learn.model);
  try {
    for await (const { x, y } of dl) {
      const boxes = Array.from({ length: n }, () => {
        const scale = 0.9 + 0.1 * random();
        const top = (1 - scale) * random();
        const left = (1 - scale) * random();
        return [top, left, top + scale, left + scale];
      });
      blended.push(
        tf.tidy(() => {
          const probs = (input: tf.Tensor4D) => learn.lossFunc.activation(fused.predict(input));
          const [b, h, w] = x.shape;
          const augmented = boxes.map((box, i) => {
            const flipped = i % 2 ? tf.image.flipLeftRight(x) : x;
            const crop = tf.image.cropAndResize(flipped, tf.tensor2d(Array(b).fill(box)), tf.range(0, b, 1, 'int32'), [h, w]);
            return probs(crop);
          });
          const aug = tf.div(tf.addN(augmented), n);
          return tf.add(tf.mul(aug, 1 - beta), tf.mul(probs(x), beta));
        }),
      );
      targs.push(y);
      x.dispose();
    }
  } finally {
    fused.dispose();
  }
  const preds = tf.concat(blended, 0) as tf.Tensor2D;
  const targ = tf.concat(targs, 0);
  tf.dispose([...blended, ...targs]);
  return { preds, targs: targ };
}
