import * as tf from '../core/tf.js';
import type { DataLoader } from '../data/dataLoader.js';
import type { ResizeSpec } from '../data/image.js';
import type { NormStats } from '../data/normalize.js';
import { buildTestDl, makeTestDl, type Preprocessing, type TestDlOptions, type TestItem } from '../data/testDl.js';
import { affineTransform, batchResize } from '../data/transforms/affine.js';
import { itemTfmsOfExport } from '../data/transforms/itemTransforms.js';
import type { ItemTransform, ItemTransformConfig } from '../data/transforms/transform.js';
import type { Learner } from './learner.js';
import { FastvisionError } from '../core/errors.js';
import { inferenceRunner } from '../engine/inference.js';
import { guardBatch } from '../engine/webgpu/deviceLimits.js';
import { progressBar } from '../core/progress.js';

/** What a learner needs to predict on its own, without training data (kept in exports). */
export interface InferenceConfig {
  /** Class names; output i of the model is `vocab[i]`. */
  vocab: string[];
  /** Multi-label (sigmoid per class) rather than single-label (softmax). */
  multiLabel: boolean;
  /** How images are sized: the first resize (all there is with the `size` option). */
  resize: ResizeSpec;
  /** The whole item pipeline, when there is more than the resize (item transforms run as on the validation set). */
  itemTfms?: ItemTransformConfig[] | undefined;
  /** The batch size after the batch transforms, when they resize (presizing: `augTransforms({ size })`). */
  size?: [number, number] | undefined;
  /** Normalisation applied after scaling pixels to [0, 1]; none means `x / 255` only. */
  normalize?: NormStats | undefined;
  /** Multi-label: the probability above which a class is predicted. Default 0.5. */
  thresh?: number;
}

/** Options of `learn.getPreds` ({@link Learner.getPreds}). */
export interface GetPredsOptions {
  /** Which data: `'valid'` (default), `'train'` (in order, every item, through the training transforms as fastai's), or any DataLoader. */
  ds?: 'valid' | 'train' | DataLoader;
  /** A DataLoader to predict on, e.g. `dls.testDl(files)` (fastai's `get_preds(dl=…)`); overrides `ds`. */
  dl?: DataLoader;
  /** Also return each item's loss. */
  withLoss?: boolean;
  /** Also return decoded predictions (class indices; multi-hot for multi-label). */
  withDecoded?: boolean;
  /** A progress bar (plain lines off a terminal) over the batches. Default the learner's `progress`. */
  progress?: boolean;
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
  const dl = opts.dl ?? loaderOf(learn, ds);
  if (withLoss && !dl.dataset.hasLabels) throw new FastvisionError('BAD_OPTION', 'getPreds withLoss needs labels: this test DataLoader was made without withLabels');
  const bar = progressBar('predicting', dl.length, { show: learn.showsProgress(opts.progress) });
  let done = 0;
  try {
    return await predsOf(learn, dl, withLoss, withDecoded, () => bar.update(++done));
  } finally {
    bar.stop();
  }
}

/** {@link getPreds} over `dl`, calling `onBatch` after each batch. */
async function predsOf(learn: Learner, dl: DataLoader, withLoss: boolean, withDecoded: boolean, onBatch: () => void): Promise<Preds> {
  const preds: tf.Tensor[] = [];
  const targs: tf.Tensor[] = [];
  const losses: tf.Tensor[] = [];
  const indices: number[] = [];
  const runner = inferenceRunner(learn.model);
  try {
    for await (const { x, y, indices: idx } of dl) {
      const out = await runner.run(x as tf.Tensor4D);
      tf.tidy(() => {
        preds.push(tf.keep(learn.lossFunc.activation(out)));
        if (withLoss) losses.push(tf.keep(learn.lossFunc(out, y, 'none')));
      });
      out.dispose();
      targs.push(y);
      indices.push(...idx);
      x.dispose();
      onBatch();
    }
  } finally {
    runner.dispose();
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
  const { predictions } = await predictMany(learn, [item], { bs: 1, progress: false });
  const { item: _, ...prediction } = predictions[0]!;
  return prediction;
}

/** What `learn.predictMany` returns: a prediction per image that could be read, and the ones that could not. */
export interface ManyPredictions {
  /** In input order, without the skipped images. */
  predictions: (Prediction & { item: string | Buffer })[];
  /** Images that could not be decoded, with why (only with `onBadImage: 'skip'`). */
  skipped: { item: string | Buffer; reason: string }[];
}

/** Options of `learn.predictMany`. */
export interface PredictManyOptions {
  /** `'error'` (default) stops at an image that cannot be read; `'skip'` reports it in `skipped`. */
  onBadImage?: 'error' | 'skip';
  /** Images per batch. Default 16. */
  bs?: number;
  /** Called after each batch with the predictions so far and the total, e.g. for a progress bar of your own. */
  onProgress?: (done: number, total: number) => void;
  /** A progress bar (plain lines off a terminal) over the images, and over checking the files when that takes a while. Default the learner's `progress`. */
  progress?: boolean;
}

/**
 * `predict` over many images, in batches through a test DataLoader built with the
 * learner's preprocessing. With `onBadImage: 'skip'` an image that cannot be decoded
 * is reported in `skipped` instead of stopping the run.
 */
export async function predictMany(learn: Learner, items: readonly (string | Buffer)[], opts: PredictManyOptions = {}): Promise<ManyPredictions> {
  const out: ManyPredictions = { predictions: [], skipped: [] };
  if (items.length === 0) return out;
  const onBadImage = opts.onBadImage ?? 'error';
  const show = learn.showsProgress(opts.progress);
  const { dl, inputOf, missing } = await buildTestDl(items, preprocessingOf(learn), { bs: opts.bs ?? 16, onBadImage, progress: show });
  out.skipped.push(...missing.map((m) => ({ item: items[m.input]!, reason: m.reason })));
  const bar = progressBar('predicting', items.length, { show });
  try {
    if (dl.dataset.items.length) {
      await predictBatches(learn, dl, items, inputOf, out, (done) => {
        bar.update(done);
        opts.onProgress?.(done, items.length);
      });
    }
  } finally {
    bar.stop();
  }
  // Images that failed to decode while loading: in the dataset's skipped list, in the order met.
  const met = dl.dataset.skipped.slice(missing.length);
  dl.dataset.items.forEach((it, i) => {
    if (!dl.dataset.isBad(i)) return;
    const k = met.findIndex((s) => s.file === it.file);
    out.skipped.push({ item: items[inputOf[i]!]!, reason: k >= 0 ? met.splice(k, 1)[0]!.reason : 'cannot be decoded' });
  });
  return out;
}

/** The batches of a test DataLoader into `out.predictions`; `onBatch` gets how many inputs of `dl` are done (predicted or left out). */
async function predictBatches(
  learn: Learner,
  dl: DataLoader,
  items: readonly (string | Buffer)[],
  inputOf: readonly number[],
  out: ManyPredictions,
  onBatch: (done: number) => void,
): Promise<void> {
  const { vocab, multiLabel } = learn.inferenceConfig;
  for await (const { x, y, indices } of dl) {
    guardBatch(learn.model, x.shape);
    const [p, d] = tf.tidy(() => {
      const p = learn.lossFunc.activation(learn.model.apply(x, { training: false }) as tf.Tensor);
      return [p, learn.lossFunc.decodes(p)];
    });
    tf.dispose([x, y]);
    const [probs, decoded] = await Promise.all([p.array() as Promise<number[][]>, d.array() as Promise<number[] | number[][]>]).finally(() => tf.dispose([p, d]));
    indices.forEach((i, k) => {
      const item = items[inputOf[i]!]!;
      const probList = probs![k]!;
      if (multiLabel) {
        const labels = vocab.filter((_, c) => (decoded![k] as number[])[c]! > 0);
        out.predictions.push({ item, label: labels.join(';'), index: -1, labels, probs: probList });
      } else {
        const index = decoded![k] as number;
        out.predictions.push({ item, label: vocab[index]!, index, labels: [vocab[index]!], probs: probList });
      }
    });
    // The dataset's skipped list holds the missing files and those that failed to decode so far.
    onBatch(out.predictions.length + dl.dataset.skipped.length);
  }
}

/**
 * The item transforms as data for an export, or undefined when the `resize` says it all
 * (one centred resize: the `size` option) or a custom transform cannot be written as data
 * (`exportLearner` refuses that case).
 */
export function pipelineConfig(tfms: readonly ItemTransform[]): ItemTransformConfig[] | undefined {
  if (tfms.length === 1 && tfms[0]!.config?.type === 'Resize' && tfms[0]!.config.centred) return undefined;
  if (!tfms.every((t) => t.config)) return undefined;
  return tfms.map((t) => t.config!);
}

/** How the learner makes a model input: its DataLoaders' validation path, or its export's. */
export function preprocessingOf(learn: Learner): Preprocessing {
  const dls = learn.dataLoadersOrUndefined;
  if (dls) return { vocab: dls.vocab, multiLabel: dls.multiLabel, itemTfms: dls.itemTfms, batchTfms: dls.batchTfms, normalize: () => dls.normalize };
  const cfg = learn.inferenceConfig;
  const itemTfms = itemTfmsOfExport(cfg);
  const batchTfms = cfg.size ? [batchResize(cfg.size)] : [];
  return { vocab: cfg.vocab, multiLabel: cfg.multiLabel, itemTfms, batchTfms, normalize: () => cfg.normalize };
}

/** fastai's `learn.dls.test_dl`, for a learner with or without DataLoaders. */
export function testDl(learn: Learner, items: readonly TestItem[], opts: TestDlOptions = {}): Promise<DataLoader> {
  return makeTestDl(items, preprocessingOf(learn), { bs: learn.dataLoadersOrUndefined?.valid.bs ?? 64, ...opts, progress: learn.showsProgress(opts.progress) });
}

function loaderOf(learn: Learner, ds: 'valid' | 'train' | DataLoader): DataLoader {
  return ds === 'valid' ? learn.dls.valid : ds === 'train' ? learn.dls.train.with({ shuffle: false, dropLast: false }) : ds;
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
  /** One progress bar (plain lines off a terminal) over every pass's batches. Default the learner's `progress`. */
  progress?: boolean;
}

/**
 * fastai's test-time augmentation: `n` passes of the items through the training
 * transforms (random crops, flips, lighting…), averaged, blended with one pass through
 * the validation transforms as `lerp(aug, plain, beta)`. When the DataLoaders have no
 * random training transforms, the passes use a flip and a 1–1.1× zoom instead (fastai's
 * would then repeat the plain pass `n` times). Returns probabilities and targets.
 */
export async function tta(learn: Learner, opts: TtaOptions = {}): Promise<{ preds: tf.Tensor2D; targs: tf.Tensor }> {
  const { ds = 'valid', n = 4, beta = 0.25, seed = 0 } = opts;
  const plainDl = ds === 'valid' ? learn.dls.valid : ds === 'train' ? learn.dls.train.with({ shuffle: false, dropLast: false, split: 'valid' }) : ds;
  const trainTfms = learn.dls.train.batchTfms;
  const augmented = plainDl.with({ split: 'train', shuffle: false, dropLast: false, batchTfms: trainTfms });
  const augDl = augmented.isRandom ? augmented : plainDl.with({ split: 'train', batchTfms: [...trainTfms, affineTransform({ doFlip: true, maxZoom: 1.1, pAffine: 1 })] });
  const passes: tf.Tensor[] = [];
  const bar = progressBar('tta', n * augDl.length + plainDl.length, { show: learn.showsProgress(opts.progress) });
  let done = 0;
  const onBatch = () => bar.update(++done);
  let plain: Preds;
  try {
    for (let i = 0; i < n; i++) {
      const { preds, targs } = await predsOf(learn, augDl.with({ seed: `${seed}:${i}` }), false, false, onBatch);
      targs.dispose();
      passes.push(preds);
    }
    plain = await predsOf(learn, plainDl, false, false, onBatch);
  } catch (err) {
    tf.dispose(passes);
    throw err;
  } finally {
    bar.stop();
  }
  const preds = tf.tidy(() => tf.add(tf.mul(tf.div(tf.addN(passes), n), 1 - beta), tf.mul(plain.preds, beta))) as tf.Tensor2D;
  tf.dispose([...passes, plain.preds]);
  return { preds, targs: plain.targs };
}
