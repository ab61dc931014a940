import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Batch, DataLoader } from '../data/dataLoader.js';
import type { DataLoaders } from '../data/dataLoaders.js';
import {
  Callback,
  CancelBatchException,
  CancelEpochException,
  CancelFitException,
  CancelTrainException,
  CancelValidException,
  type EventName,
} from './callback.js';
import { expandHyper, slice, type HyperValue } from './hyper.js';
import { bceWithLogitsLossFlat, crossEntropyLossFlat, type LossFunc } from './losses.js';
import { exportLearner } from './export.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { getPreds, predict, predictMany, tta, type GetPredsOptions, type InferenceConfig, type ManyPredictions, type Prediction, type Preds, type TtaOptions } from './inference.js';
import { LRFinder, suggestionFuncs, type SuggestionName } from './lrFinder.js';
import { toMetric, type Metric, type MetricLike } from './metrics.js';
import { Adam, type ParamGroup } from './optimizer.js';
import { writeLineChart, type MarkedPoint } from '../plot/lineChart.js';
import { ProgressCallback } from './progress.js';
import { Recorder } from './recorder.js';
import { ParamScheduler } from './scheduler.js';
import { combinedCos } from './schedules.js';
import { BnFreeze } from './bnFreeze.js';
import { FeatureCache, type FeatureCacheOptions } from './featureCache.js';
import type { HeadSplit } from './headSplit.js';
import { ensureBackend } from '../engine/backend.js';
import { capabilities } from '../engine/capabilities.js';
import { LossLog } from './lossLog.js';
import { useFastTraining } from '../engine/tfjs/fastTraining.js';
import { FusedInference } from '../engine/tfjs/fusedInference.js';
import { FastvisionError } from '../core/errors.js';

/** Options of {@link Learner}, with fastai's defaults. */
export interface LearnerOptions {
  /** Default: cross-entropy for single-label data, BCE-with-logits for multi-label. */
  lossFunc?: LossFunc;
  /** Columns of the epoch table after the losses, e.g. `[errorRate]`. Default none. */
  metrics?: MetricLike[];
  /** Decoupled weight decay, one value or per group. Default 0.01. */
  wd?: HyperValue;
  /** Keep training BatchNorm layers of frozen groups. Default true. */
  trainBn?: boolean;
  /** Layer groups, earliest first. Default: the whole model is one group. */
  layerGroups?: tf.layers.Layer[][];
  /** Extra callbacks for every fit. */
  cbs?: Callback[];
  /** Default learning rate. 1e-3. */
  lr?: number;
  /** One-cycle momentum: start, middle, end. Default `[0.95, 0.85, 0.95]`. */
  moms?: [number, number, number];
  /** Where the table and messages go. Default `console.log`. */
  logger?: (line: string) => void;
  /** The architecture's name, kept in exports. */
  arch?: string;
  /** For a learner without DataLoaders (loaded from an export): how to prepare images. */
  inference?: InferenceConfig;
  /**
   * Train only the head on body features computed once per image, whenever the body
   * is a fixed function of the image: frozen, `trainBn: false`, the {@link BnFreeze}
   * callback, no random augmentation. Default true (with a one-line notice the first
   * time a frozen fit cannot use it, saying why); `false` turns it off; an object sets
   * where features are kept.
   */
  featureCache?: boolean | FeatureCacheOptions;
}

/** Options of {@link Learner.fit}. */
export interface FitOptions {
  /** Weight decay for this fit: one value, one per group, or a slice. Default the learner's `wd` (0.01). */
  wd?: HyperValue;
  /** Callbacks for this fit only, besides the learner's. */
  cbs?: Callback[];
}

/** Options of {@link Learner.fitOneCycle}, with fastai's defaults. */
export interface FitOneCycleOptions extends FitOptions {
  /** The lr starts at `lrMax / div`. Default 25. */
  div?: number;
  /** The lr ends at `lrMax / divFinal`. Default 1e5. */
  divFinal?: number;
  /** Share of iterations spent warming up. Default 0.25. */
  pctStart?: number;
  /** Momentum at the start, the peak lr and the end. Default the learner's `moms`, `[0.95, 0.85, 0.95]`. */
  moms?: [number, number, number];
}

/** Options of {@link Learner.fineTune}, with fastai's defaults. */
export interface FineTuneOptions extends FitOneCycleOptions {
  /** Epochs with the body frozen first. Default 1. */
  freezeEpochs?: number;
  /** The unfrozen phase runs at `slice(baseLr / 2 / lrMult, baseLr / 2)`. Default 100. */
  lrMult?: number;
}

/** Options of {@link Learner.lrFind}, with fastai's defaults. */
export interface LrFindOptions {
  /** First learning rate. Default 1e-7. */
  startLr?: number;
  /** Last learning rate. Default 10. */
  endLr?: number;
  /** Iterations (mini-batches). Default 100. */
  numIt?: number;
  /** Stop once the smoothed loss passes 4× its best. Default true. */
  stopDiv?: boolean;
  /** Which suggestions to return. Default `['valley']`. */
  suggestFuncs?: SuggestionName[];
  /** Also draw loss against lr (log scale) with the suggestions marked, to this PNG (or SVG). */
  plot?: string;
}

/** What {@link Learner.lrFind} found: the asked-for suggestions, and the curve. */
export type LrFindResult = Partial<Record<SuggestionName, number>> & { lrs: number[]; losses: number[] };

/**
 * The training hub, as fastai's `Learner`: a model in layer groups, DataLoaders, a
 * loss, fastai's Adam, and callbacks fired at named events.
 *
 * Usually made by {@link visionLearner}; build one directly for your own model.
 *
 * @example
 * ```ts
 * const learn = new Learner(dls, model, { metrics: [errorRate], layerGroups: [[...body.layers], [...head]] });
 * await learn.fitOneCycle(3, 1e-3);
 * ```
 */
export class Learner {
  /** The model: images `[batch, h, w, 3]` → logits. */
  readonly model: tf.LayersModel;
  /** The model's layers in groups, earliest first; freezing and discriminative lrs address these. */
  readonly layerGroups: tf.layers.Layer[][];
  /** The loss, with its activation (softmax or sigmoid) and decoding. */
  readonly lossFunc: LossFunc;
  /** The metrics of the epoch table. */
  readonly metrics: Metric[];
  /** fastai's Adam, one parameter group per layer group. */
  readonly opt: Adam;
  /** Losses, lrs and epoch values of the last fit. */
  readonly recorder = new Recorder();
  /** Callbacks of every fit: the recorder, the progress table, and `opts.cbs`. */
  readonly cbs: Callback[];
  /** Weight decay. Default 0.01. */
  wd: HyperValue;
  /** BatchNorm layers of frozen groups keep training. Default true. */
  trainBn: boolean;
  /** Default learning rate of `fit` and `fitOneCycle`. Default 1e-3. */
  lr: number;
  /** One-cycle momentums (start, middle, end). Default `[0.95, 0.85, 0.95]`. */
  moms: [number, number, number];
  /** Where the epoch table and messages go. Default `console.log`. */
  logger: (line: string) => void;
  /** The architecture's name (kept in exports). */
  readonly arch: string | undefined;
  /** Cached body features for frozen training (see {@link LearnerOptions.featureCache}); undefined when turned off. */
  readonly featureCache: FeatureCache | undefined;

  // Training state, for callbacks (fastai's names).
  /** The current epoch, from 0. */
  epoch = 0;
  /** Epochs of the current fit. */
  nEpoch = 0;
  /** The current iteration within the epoch. */
  iter = 0;
  /** Iterations per epoch. */
  nIter = 0;
  /** Training iterations so far in this fit. */
  trainIter = 0;
  /** Share of this fit's training done, 0 → 1 (what schedules read). */
  pctTrain = 0;
  /** True during training batches, false during validation. */
  training = false;
  /**
   * The last training batch's loss, as read back from the backend. On wasm and cpu it
   * is read after every step; on device backends (tfjs-node, GPUs) once per epoch, or
   * when a callback calls {@link Learner.readLosses} — reading every step would stall
   * the device.
   */
  loss = Number.NaN;
  /** The last validation: `[valid_loss, ...metrics]`, or undefined when skipped. */
  validResults: number[] | undefined;

  private dataLoaders: DataLoaders | undefined;
  private readonly storedInference: InferenceConfig | undefined;
  private frozenIdx = 0;
  private varsCache: tf.Variable[] | undefined;
  private readonly groups: ParamGroup[];
  /** The body/head split while a fit trains the head on cached features. */
  private cached: HeadSplit | undefined;
  private readonly noticesShown = new Set<string>();
  private silenced = false;
  private readonly lossLog = new LossLog();
  private allowNonFinite = false;

  /**
   * @param dls - The data; `undefined` only for inference with `opts.inference` (as {@link loadLearner} does).
   * @param model - Images `[batch, h, w, 3]` → logits `[batch, classes]`.
   * @param opts - Loss, metrics, weight decay, layer groups, callbacks; fastai's defaults.
   */
  constructor(dls: DataLoaders | undefined, model: tf.LayersModel, opts: LearnerOptions = {}) {
    if (!dls && !opts.inference) throw new FastvisionError('TRAINING', 'fastvision: a Learner needs DataLoaders (or, for inference only, an inference config)');
    this.dataLoaders = dls;
    this.storedInference = opts.inference;
    this.model = model;
    useFastTraining(model);
    this.layerGroups = opts.layerGroups ?? [model.layers.filter((l) => l.weights.length > 0)];
    const multiLabel = dls ? dls.multiLabel : opts.inference!.multiLabel;
    this.lossFunc = opts.lossFunc ?? (multiLabel ? bceWithLogitsLossFlat() : crossEntropyLossFlat());
    this.metrics = (opts.metrics ?? []).map(toMetric);
    this.wd = opts.wd ?? 0.01;
    this.trainBn = opts.trainBn ?? true;
    this.lr = opts.lr ?? 1e-3;
    this.moms = opts.moms ?? [0.95, 0.85, 0.95];
    this.logger = opts.logger ?? ((line) => console.log(line));
    this.arch = opts.arch;
    const fc = opts.featureCache ?? true;
    this.featureCache = fc === false ? undefined : new FeatureCache(fc === true ? {} : fc);
    this.groups = this.layerGroups.map((layers) => {
      const params = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
      const noWd = new Set(layers.flatMap((l) => l.trainableWeights.filter((w) => isBatchNorm(l) || /\/bias$/.test(w.originalName)).map((w) => w.read() as tf.Variable)));
      return { params, noWd };
    });
    this.opt = new Adam(this.groups, this.lr);
    this.cbs = [this.recorder, new ProgressCallback(), ...(opts.cbs ?? [])];
  }

  /** The DataLoaders. Setting new ones (e.g. `dls.withSize(320)`) keeps the model and its weights. */
  get dls(): DataLoaders {
    if (!this.dataLoaders) throw new FastvisionError('TRAINING', 'fastvision: this learner has no DataLoaders (it was loaded for inference); set learn.dls first');
    return this.dataLoaders;
  }

  set dls(next: DataLoaders) {
    const vocab = this.inferenceConfig.vocab;
    if (next.vocab.join('\u0000') !== vocab.join('\u0000')) {
      throw new FastvisionError('TRAINING', `fastvision: the new DataLoaders' vocab (${next.vocab.join(', ')}) differs from the learner's (${vocab.join(', ')})`);
    }
    // Re-check normalisation: the weights were trained on these statistics.
    const stats = this.inferenceConfig.normalize;
    if (stats && !next.normalize) next.normalize = stats;
    this.dataLoaders = next;
  }

  /** Vocab, image size and normalisation: what `predict` and exports use. */
  get inferenceConfig(): InferenceConfig {
    const d = this.dataLoaders;
    if (!d) return this.storedInference!;
    return { vocab: [...d.vocab], multiLabel: d.multiLabel, resize: d.resizeSpec, normalize: d.normalize };
  }

  /** Predictions over the validation set (or `ds`), as fastai's `get_preds`. The caller disposes them. */
  getPreds(opts: GetPredsOptions = {}): Promise<Preds> {
    return getPreds(this, opts);
  }

  /** Test-time augmentation over the validation set (or `ds`), as fastai's `tta`. The caller disposes the tensors. */
  tta(opts: TtaOptions = {}): Promise<{ preds: tf.Tensor2D; targs: tf.Tensor }> {
    return tta(this, opts);
  }

  /** Base directory for `save`/`load` (fastai's `learn.path`): the DataLoaders' path, or '.'. */
  get path(): string {
    return this.dataLoaders?.path ?? '.';
  }

  /**
   * Saves weights (and with `withOpt`, default true, the optimizer's state) to
   * `<path>/models/<name>.safetensors`, atomically, for resuming (fastai's
   * `learn.save`); returns the file.
   */
  save(name: string, opts: { withOpt?: boolean } = {}): Promise<string> {
    return saveCheckpoint(this, join(this.path, 'models', `${name}.safetensors`), opts.withOpt ?? true);
  }

  /** Loads what {@link save} wrote; checks everything first, so a bad file changes nothing. */
  async load(name: string): Promise<void> {
    await loadCheckpoint(this, join(this.path, 'models', `${name}.safetensors`));
  }

  /** One image (a path or an encoded buffer) → `{ label, index, labels, probs }`, as fastai's `predict`. */
  predict(item: string | Buffer): Promise<Prediction> {
    return predict(this, item);
  }

  /**
   * {@link predict} over many images; with `onBadImage: 'skip'`, images that cannot be
   * decoded are listed in `skipped` (with why) instead of stopping the run.
   */
  predictMany(items: readonly (string | Buffer)[], opts: { onBadImage?: 'error' | 'skip' } = {}): Promise<ManyPredictions> {
    return predictMany(this, items, opts);
  }

  /**
   * Writes `dir/model.json` and `dir/weights.bin` (a plain tfjs layers model) and
   * `dir/fastvision.json` (vocab, image size, resize method, normalisation,
   * architecture, version). No code is stored: loading an export runs none.
   */
  export(dir: string): Promise<string> {
    return exportLearner(this, dir);
  }

  /** Number of layer groups. */
  get nGroups(): number {
    return this.layerGroups.length;
  }

  /**
   * Trains groups `n` onwards; earlier groups are frozen except their BatchNorm
   * layers when `trainBn`. Negative `n` counts from the end. Clears the optimizer state.
   */
  freezeTo(n: number): void {
    this.frozenIdx = n >= 0 ? n : this.nGroups + n;
    if (this.frozenIdx >= this.nGroups) this.logger(`fastvision: freezeTo(${n}) freezes every layer group`);
    this.varsCache = undefined;
    this.opt.clearState();
  }

  /** Freezes every group but the last (the head). */
  freeze(): void {
    this.freezeTo(-1);
  }

  /** Trains every group. */
  unfreeze(): void {
    this.freezeTo(0);
  }

  /** The variables a training step updates now. */
  trainableVariables(): tf.Variable[] {
    this.varsCache ??= this.layerGroups.flatMap((layers, g) =>
      g >= this.frozenIdx ? this.groups[g]!.params : this.trainBn ? layers.filter(isBatchNorm).flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable)) : [],
    );
    return this.varsCache;
  }

  /** Trains for `nEpoch` epochs at a constant learning rate (a number, per group, or a {@link slice}). */
  async fit(nEpoch: number, lr: HyperValue = this.lr, opts: FitOptions = {}): Promise<void> {
    this.opt.setHyper('lr', expandHyper(lr, this.nGroups, 'lr'));
    this.opt.setHyper('wd', expandHyper(opts.wd ?? this.wd, this.nGroups, 'wd'));
    await this.runFit(nEpoch, opts.cbs ?? []);
  }

  /**
   * fastai's one-cycle policy: per iteration, the lr rises by cosine from lrMax/div to
   * lrMax over the first `pctStart` of training, then falls by cosine to lrMax/divFinal;
   * momentum moves the opposite way through `moms`.
   */
  async fitOneCycle(nEpoch: number, lrMax: HyperValue = this.lr, opts: FitOneCycleOptions = {}): Promise<void> {
    const { div = 25, divFinal = 1e5, pctStart = 0.25, moms = this.moms } = opts;
    const maxes = expandHyper(lrMax, this.nGroups, 'lrMax');
    const scheds = new ParamScheduler({
      lr: maxes.map((m) => combinedCos(pctStart, m / div, m, m / divFinal)),
      mom: maxes.map(() => combinedCos(pctStart, moms[0], moms[1], moms[2])),
    });
    await this.fit(nEpoch, this.lr, { ...opts, cbs: [scheds, ...(opts.cbs ?? [])] });
  }

  /** fastai's `fine_tune`: one-cycle with the body frozen, then unfrozen with discriminative lrs. */
  async fineTune(epochs: number, baseLr = 2e-3, opts: FineTuneOptions = {}): Promise<void> {
    const { freezeEpochs = 1, lrMult = 100, pctStart = 0.3, div = 5, ...rest } = opts;
    this.freeze();
    await this.fitOneCycle(freezeEpochs, slice(baseLr), { ...rest, pctStart: 0.99 });
    const lr = baseLr / 2;
    this.unfreeze();
    await this.fitOneCycle(epochs, slice(lr / lrMult, lr), { ...rest, pctStart, div });
  }

  /**
   * fastai's LR finder: trains at exponentially growing lrs from `startLr` to `endLr`
   * over `numIt` iterations (stopping when the loss diverges), then restores the
   * model and optimizer exactly and returns the suggestions.
   */
  async lrFind(opts: LrFindOptions = {}): Promise<LrFindResult> {
    const { startLr = 1e-7, endLr = 10, numIt = 100, stopDiv = true, suggestFuncs = ['valley'], plot } = opts;
    const weights = this.model.weights.map((w) => tf.clone(w.read()));
    const optState = this.opt.snapshot();
    const logger = this.logger;
    const nEpoch = Math.floor(numIt / this.dls.train.length) + 1;
    const finder = new LRFinder(Array(this.nGroups).fill(startLr), Array(this.nGroups).fill(endLr), Math.max(numIt, 6), stopDiv);
    this.logger = () => {};
    this.silenced = true;
    try {
      await this.runFit(nEpoch, [finder], { allowNonFinite: true });
    } finally {
      this.logger = logger;
      this.silenced = false;
      this.model.weights.forEach((w, i) => w.write(weights[i]!));
      tf.dispose(weights);
      this.opt.restore(optState);
    }
    const lrs = this.recorder.lrs.slice(Math.floor(numIt / 10), -5);
    let losses = this.recorder.losses.slice(Math.floor(numIt / 10), -5);
    const nan = losses.findIndex((l) => Number.isNaN(l));
    if (nan >= 0) losses = losses.slice(0, nan);
    const result: LrFindResult = { lrs: this.recorder.lrs.slice(), losses: this.recorder.losses.slice() };
    const marks: MarkedPoint[] = [];
    for (const name of suggestFuncs) {
      if (!losses.length) {
        result[name] = Number.NaN;
        continue;
      }
      const [lr, [x, y]] = suggestionFuncs[name](lrs.slice(0, losses.length), losses, numIt);
      result[name] = lr;
      marks.push({ name, x, y });
    }
    if (plot) {
      // fastai's plot_lr_find: the curve without its last 5 points, log x axis, suggestions marked.
      const end = Math.max(1, result.lrs.length - 5);
      await writeLineChart({
        series: [{ name: 'loss', x: result.lrs.slice(0, end), y: result.losses.slice(0, end) }],
        points: marks,
        xLog: true,
        xTitle: 'Learning Rate',
        yTitle: 'Loss',
        file: plot,
      });
    }
    return result;
  }

  private async runFit(nEpoch: number, extra: Callback[], opts: { allowNonFinite?: boolean } = {}): Promise<void> {
    await ensureBackend();
    // Without this, lrFind would wait forever for iterations that never come.
    const train = this.dls.train;
    if (train.length === 0) {
      throw new FastvisionError('TRAINING',
        `fastvision: the training set has ${train.n} images, fewer than one batch of ${train.bs} (the last incomplete batch is dropped); ` +
          `use a batch size of at most ${train.n} (bs), or more images`,
      );
    }
    const cbs = [...this.cbs, ...extra].sort((a, b) => a.order - b.order);
    for (const cb of cbs) cb.learn = this;
    const fire = async (event: EventName) => {
      for (const cb of cbs) await cb[event]?.();
    };
    this.nEpoch = nEpoch;
    this.trainIter = 0;
    this.pctTrain = 0;
    this.allowNonFinite = opts.allowNonFinite ?? false;
    try {
      this.cached = this.planCachedFeatures(cbs);
      await fire('beforeFit');
      for (this.epoch = 0; this.epoch < nEpoch; this.epoch++) {
        try {
          await fire('beforeEpoch');
          await this.trainEpoch(fire);
          this.validResults = cbs.some((cb) => cb.runValid === false) ? undefined : await this.validateEpoch(fire);
        } catch (err) {
          if (!(err instanceof CancelEpochException)) throw err;
        }
        await fire('afterEpoch');
      }
    } catch (err) {
      if (!(err instanceof CancelFitException)) throw err;
    } finally {
      this.cached = undefined;
      this.lossLog.clear();
    }
    await fire('afterFit');
  }

  /**
   * The body/head split to train on cached features in this fit, or undefined when
   * the whole model must run. Only a frozen body is a candidate; when it is frozen
   * but not a fixed function of the image, says why, once per reason.
   */
  private planCachedFeatures(cbs: Callback[]): HeadSplit | undefined {
    if (!this.featureCache || this.frozenIdx !== this.nGroups - 1) return undefined;
    const plan = this.trainBn
      ? "the frozen body's BatchNorm weights train (trainBn: true)"
      : !cbs.some((cb) => cb instanceof BnFreeze)
        ? "the frozen body's BatchNorm uses batch statistics (no BnFreeze callback)"
        : this.featureCache.splitFor(this.model, this.layerGroups.at(-1)!);
    if (typeof plan === 'string') {
      if (!this.silenced && !this.noticesShown.has(plan)) {
        this.noticesShown.add(plan);
        this.logger(`fastvision: not caching body features: ${plan}. With { trainBn: false, cbs: [new BnFreeze()] } a frozen fit trains only the head, on features computed once (featureCache: false hides this).`);
      }
      return undefined;
    }
    this.featureCache.sync(plan.body, JSON.stringify(this.dataLoaders?.normalize ?? null));
    return plan;
  }

  /** A pass over `dl`: images, or body features when this fit trains the head on cached features. */
  private batches(dl: DataLoader): AsyncIterable<Batch> {
    return this.cached ? this.featureCache!.batches(dl, this.cached.body) : dl;
  }

  /** What a batch's `x` goes through: the model, or only its head on cached features. */
  private get net(): tf.LayersModel {
    return this.cached?.head ?? this.model;
  }

  private async trainEpoch(fire: (e: EventName) => Promise<void>): Promise<void> {
    this.training = true;
    this.nIter = this.dls.train.length;
    const total = this.nEpoch * this.nIter;
    const readEveryStep = capabilities().hostMemory;
    try {
      await fire('beforeTrain');
      this.iter = 0;
      for await (const batch of this.batches(this.dls.train)) {
        try {
          await fire('beforeBatch');
          const lrs = this.opt.hypers.map((h) => h.lr.toExponential(3)).join(', ');
          this.lossLog.push(this.step(batch), { epoch: this.epoch, iter: this.iter, lrs });
          if (readEveryStep) await this.readLosses();
          await fire('afterLoss');
          await fire('afterBackward');
          await fire('afterStep');
        } catch (err) {
          if (!(err instanceof CancelBatchException)) throw err;
        } finally {
          tf.dispose([batch.x, batch.y]);
        }
        this.trainIter++;
        this.pctTrain = this.trainIter / total;
        await fire('afterBatch');
        this.iter++;
      }
      await this.readLosses();
    } catch (err) {
      if (!(err instanceof CancelTrainException)) throw err;
      await this.readLosses();
    } finally {
      this.training = false;
    }
    await fire('afterTrain');
  }

  /**
   * Reads the training losses not read yet (one transfer from the backend), hands them
   * to the recorder and sets {@link Learner.loss}. The loop calls it once per epoch on
   * device backends and after every step on wasm and cpu; a callback that needs each
   * step's loss on a GPU (as the LR finder does) calls it itself.
   *
   * @returns The losses read, in step order.
   * @throws at a non-finite loss (outside `lrFind`), naming its epoch, iteration and lr.
   */
  async readLosses(): Promise<number[]> {
    if (!this.lossLog.size) return [];
    const values = await this.lossLog.read(this.allowNonFinite);
    this.recorder.addLosses(values);
    this.loss = values.at(-1)!;
    return values;
  }

  /**
   * One optimizer step; returns the batch's loss, unread. On wasm and cpu, where a read
   * is free, a non-finite loss skips the update (and the fit then stops on it).
   */
  private step({ x, y }: Batch): tf.Scalar {
    return tf.tidy(() => {
      const net = this.net;
      const { value, grads } = tf.variableGrads(() => this.lossFunc(net.apply(x, { training: true }) as tf.Tensor, y) as tf.Scalar, this.trainableVariables());
      if (!capabilities().hostMemory || Number.isFinite(value.dataSync()[0]!)) this.opt.step(grads);
      return value;
    });
  }

  private async validateEpoch(fire: (e: EventName) => Promise<void>): Promise<number[] | undefined> {
    try {
      await fire('beforeValidate');
      const results = await this.evaluateBatches(this.batches(this.dls.valid), this.net);
      await fire('afterValidate');
      return results;
    } catch (err) {
      if (err instanceof CancelValidException) return undefined;
      throw err;
    }
  }

  /** `[loss, ...metrics]` over a DataLoader, batch-size weighted, in inference mode. */
  evaluate(dl: DataLoader): Promise<number[]> {
    return this.evaluateBatches(dl, this.model);
  }

  private async evaluateBatches(batches: AsyncIterable<Batch>, net: tf.LayersModel): Promise<number[]> {
    for (const m of this.metrics) m.reset();
    // Accumulated on the backend and read once at the end: no device sync per batch.
    let total: tf.Scalar = tf.keep(tf.scalar(0));
    let n = 0;
    // Convolutions with BatchNorm folded in, for this pass's weights.
    const fused = new FusedInference(net);
    try {
      for await (const { x, y } of batches) {
        const pred = fused.predict(x);
        const next = tf.tidy(() => tf.add(total, tf.mul(this.lossFunc(pred, y), y.shape[0]!)) as tf.Scalar);
        total.dispose();
        total = tf.keep(next);
        n += y.shape[0]!;
        for (const m of this.metrics) m.accumulate(pred, y);
        tf.dispose([x, y, pred]);
      }
      const loss = (await total.data())[0]! / n;
      return [loss, ...(await Promise.all(this.metrics.map((m) => m.value())))];
    } finally {
      for (const m of this.metrics) m.reset(); // frees what they kept on the backend
      total.dispose();
      fused.dispose();
    }
  }
}

function isBatchNorm(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'BatchNormalization';
}
