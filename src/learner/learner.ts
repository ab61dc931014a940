import { join } from 'node:path';
import * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';
import type { Batch, DataLoader } from '../data/dataLoader.js';
import type { DataLoaders } from '../data/dataLoaders.js';
import { ensureBackend } from '../engine/backend.js';
import { capabilities } from '../engine/capabilities.js';
import { useFastTraining } from '../engine/tfjs/fastTraining.js';
import { inferenceRunner, releaseInference } from '../engine/inference.js';
import { guardBatch, throwIfDeviceFailed } from '../engine/webgpu/deviceLimits.js';
import {
  Callback,
  CancelBackwardException,
  CancelBatchException,
  CancelEpochException,
  CancelFitException,
  CancelStepException,
  CancelTrainException,
  CancelValidException,
  innerLoopEvents,
  tapeEvents,
  type EventName,
} from './callback.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { saveTorchStateDict, type IncompatibleKeys } from './torchStateDict.js';
import { CompiledSteps } from './compiledSteps.js';
import { exportLearner } from './export.js';
import { FeatureCache, type FeatureCacheOptions } from './featureCache.js';
import { FeatureCacheCallback } from './featureCacheCallback.js';
import type { HeadSplit } from './headSplit.js';
import { expandHyper, type HyperValue } from './hyper.js';
import { getPreds, pipelineConfig, predict, predictMany, testDl, tta, type GetPredsOptions, type InferenceConfig, type ManyPredictions, type PredictManyOptions, type Prediction, type Preds, type TtaOptions } from './inference.js';
import type { TestDlOptions, TestItem } from '../data/testDl.js';
import { LossLog } from './lossLog.js';
import { bceWithLogitsLossFlat, crossEntropyLossFlat, type LossFunc } from './losses.js';
import type { SuggestionName } from './lrFinder.js';
import { toMetric, type Metric, type MetricLike } from './metrics.js';
import { Adam, type ParamGroup } from './optimizer.js';
import { ProgressCallback } from './progress.js';
import { progressBar } from '../core/progress.js';
import { Recorder } from './recorder.js';
import { fineTune, fitOneCycle, lrFind } from './schedule.js';
import { modelSummary, type ModelSummary } from './summary.js';
import { showResults, type ShowResultsOptions } from './showResults.js';

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
  /**
   * Progress of this learner's work — fits (training and validation), `getPreds`,
   * `tta`, `predictMany`, `lrFind`, interpretation: a bar on a terminal, a line every
   * few seconds otherwise. Default true; a call's own `progress` option wins, and
   * `env.progress = false` (`FASTVISION_QUIET=1`) silences all. The epoch table is
   * `logger`'s, not progress.
   */
  progress?: boolean;
}

/** Options of {@link Learner.fit}. */
export interface FitOptions {
  /** Weight decay for this fit: one value, one per group, or a slice. Default the learner's `wd` (0.01). */
  wd?: HyperValue;
  /** Callbacks for this fit only, besides the learner's. */
  cbs?: Callback[];
  /**
   * Stops the fit from outside: when it aborts, the fit ends at the next batch as a
   * {@link CancelFitException} would (every `after…` event runs, progress bars stop),
   * then `fit` rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /** Progress bars (plain lines off a terminal) of this fit's batches. Default the learner's `progress`. */
  progress?: boolean;
}

/** What only fastvision's own schedules pass to `fit`. @internal */
interface InternalFitOptions extends FitOptions {
  /** No epoch table and no notices (the LR finder). */
  quiet?: boolean;
  /** Keep going through non-finite losses (the LR finder stops on them itself). */
  allowNonFinite?: boolean;
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
  /** A progress bar (plain lines off a terminal) over the iterations. Default the learner's `progress`. */
  progress?: boolean;
}

/** Options of {@link Learner.save}. */
export interface SaveOptions {
  /** Also save the optimizer's state, to resume training (fastvision format only). Default true. */
  withOpt?: boolean;
  /**
   * `'fastvision'` (default): a checkpoint to resume with fastvision. `'torch'`: fastai's
   * `learn.model.state_dict()` for this architecture and head, for fastai/PyTorch.
   */
  format?: 'fastvision' | 'torch';
}

/** Options of {@link Learner.load}. */
export interface LoadOptions {
  /**
   * PyTorch's `strict`: every key of the learner must be in the file and every key of
   * the file used, with the same shapes. `false` loads what matches. Default true.
   */
  strict?: boolean;
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
  lossFunc: LossFunc;
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
  /** Progress bars (plain lines off a terminal) of this learner's work; see {@link LearnerOptions.progress}. Default true. */
  progress: boolean;
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
  /** The last validation: `[valid_loss, ...metrics]`, or undefined when skipped. */
  validResults: number[] | undefined;

  // The batch, as fastai's `learn.xb`, `yb`, `pred`, `loss_grad`, `loss`: set during a
  // batch, replaceable by callbacks at the events where fastai allows it. The learner
  // frees them when the batch ends, including every tensor a callback replaced.
  private batchTensors: { xb?: tf.Tensor; yb?: tf.Tensor; pred?: tf.Tensor; lossGrad?: tf.Scalar; loss?: tf.Scalar } = {};

  /** The batch's input, from `beforeBatch` on (MixUp replaces it there). */
  get xb(): tf.Tensor | undefined {
    return this.batchTensors.xb;
  }
  set xb(t: tf.Tensor | undefined) {
    this.replaceBatchTensor('xb', t);
  }
  /** The batch's targets, from `beforeBatch` on. */
  get yb(): tf.Tensor | undefined {
    return this.batchTensors.yb;
  }
  set yb(t: tf.Tensor | undefined) {
    this.replaceBatchTensor('yb', t);
  }
  /** The model's output, from `afterPred` on. */
  get pred(): tf.Tensor | undefined {
    return this.batchTensors.pred;
  }
  set pred(t: tf.Tensor | undefined) {
    this.replaceBatchTensor('pred', t);
  }
  /** The loss that is differentiated, from `afterLoss` on (GradientAccumulation divides it). */
  get lossGrad(): tf.Scalar | undefined {
    return this.batchTensors.lossGrad;
  }
  set lossGrad(t: tf.Scalar | undefined) {
    this.replaceBatchTensor('lossGrad', t);
  }
  /** The batch's loss (a tensor, as fastai's `learn.loss`), from `afterLoss` on. */
  get loss(): tf.Scalar | undefined {
    return this.batchTensors.loss;
  }
  set loss(t: tf.Scalar | undefined) {
    this.replaceBatchTensor('loss', t);
  }
  /**
   * The gradients by variable name, from `afterBackward` until the optimizer step has
   * used them. A batch ended by {@link CancelBatchException} before the step keeps
   * them, and the next backward pass adds to them (gradient accumulation).
   */
  grads: tf.NamedTensorMap | undefined;

  /** The body/head split while a fit trains the head on cached features (set by the feature-cache callback). @internal */
  cachedSplit: HeadSplit | undefined;
  /** True while the LR finder runs: no table, no notices. @internal */
  quiet = false;
  /** The running fit's `progress` option. */
  private fitProgress: boolean | undefined;

  private dataLoaders: DataLoaders | undefined;
  private readonly storedInference: InferenceConfig | undefined;
  private frozenIdx = 0;
  private varsCache: tf.Variable[] | undefined;
  private readonly groups: ParamGroup[];
  private readonly lossLog = new LossLog();
  private allowNonFinite = false;
  private activeCbs: Callback[] = [];
  /** Tensors of the current batch that were replaced: freed when the batch ends. */
  private replaced: tf.Tensor[] = [];
  /** Training steps compiled to ONNX, when ONNX Runtime trains (see `backendInfo().training`). */
  private readonly compiledSteps = new CompiledSteps(this);
  /** The net this epoch's training steps run compiled for, or undefined (tfjs steps). */
  private compiledNet: tf.LayersModel | undefined;

  /**
   * @param dls - The data; `undefined` only for inference with `opts.inference` (as {@link loadLearner} does).
   * @param model - Images `[batch, h, w, 3]` → logits `[batch, classes]`.
   * @param opts - Loss, metrics, weight decay, layer groups, callbacks; fastai's defaults.
   */
  constructor(dls: DataLoaders | undefined, model: tf.LayersModel, opts: LearnerOptions = {}) {
    if (!dls && !opts.inference) throw new FastvisionError('BAD_OPTION', 'a Learner needs DataLoaders (or, for inference only, an inference config)');
    this.dataLoaders = dls;
    this.storedInference = opts.inference;
    this.model = model;
    useFastTraining(model);
    this.layerGroups = opts.layerGroups ?? [model.layers.filter((l) => l.weights.length > 0)];
    const multiLabel = dls ? dls.multiLabel : opts.inference!.multiLabel;
    this.lossFunc = opts.lossFunc ?? (multiLabel ? bceWithLogitsLossFlat(opts.inference?.thresh ?? 0.5) : crossEntropyLossFlat());
    this.metrics = (opts.metrics ?? []).map(toMetric);
    this.wd = opts.wd ?? 0.01;
    this.trainBn = opts.trainBn ?? true;
    this.lr = opts.lr ?? 1e-3;
    this.moms = opts.moms ?? [0.95, 0.85, 0.95];
    this.logger = opts.logger ?? ((line) => console.log(line));
    this.progress = opts.progress ?? true;
    this.arch = opts.arch;
    const fc = opts.featureCache ?? true;
    this.featureCache = fc === false ? undefined : new FeatureCache(fc === true ? {} : fc);
    this.groups = this.layerGroups.map((layers) => {
      const params = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
      const noWd = new Set(layers.flatMap((l) => l.trainableWeights.filter((w) => isBatchNorm(l) || /\/bias$/.test(w.originalName)).map((w) => w.read() as tf.Variable)));
      return { params, noWd };
    });
    this.opt = new Adam(this.groups, this.lr);
    this.cbs = [this.recorder, new ProgressCallback(), ...(this.featureCache ? [new FeatureCacheCallback(this.featureCache)] : []), ...(opts.cbs ?? [])];
  }

  /** The DataLoaders. Setting new ones (e.g. `dls.withSize(320)`) keeps the model and its weights. */
  get dls(): DataLoaders {
    if (!this.dataLoaders) throw new FastvisionError('BAD_OPTION', 'this learner has no DataLoaders (it was loaded for inference); set learn.dls first');
    return this.dataLoaders;
  }

  set dls(next: DataLoaders) {
    const vocab = this.inferenceConfig.vocab;
    if (next.vocab.join('\u0000') !== vocab.join('\u0000')) {
      throw new FastvisionError('BAD_DATA', `the new DataLoaders' vocab (${next.vocab.join(', ')}) differs from the learner's (${vocab.join(', ')})`);
    }
    // Re-check normalisation: the weights were trained on these statistics.
    const stats = this.inferenceConfig.normalize;
    if (stats && !next.normalize) next.normalize = stats;
    this.dataLoaders = next;
  }

  /** The DataLoaders, or undefined for a learner loaded for inference. @internal */
  get dataLoadersOrUndefined(): DataLoaders | undefined {
    return this.dataLoaders;
  }

  /** Vocab, image size, normalisation and (multi-label) threshold: what `predict` and exports use. */
  get inferenceConfig(): InferenceConfig {
    const d = this.dataLoaders;
    const thresh = (this.lossFunc as { thresh?: number }).thresh;
    if (!d) return { ...this.storedInference!, ...(thresh !== undefined ? { thresh } : {}) };
    const [itemTfms, size] = [pipelineConfig(d.itemTfms), d.size];
    const batchResizes = size[0] !== d.itemSize[0] || size[1] !== d.itemSize[1];
    return {
      vocab: [...d.vocab],
      multiLabel: d.multiLabel,
      resize: d.resizeSpec,
      ...(itemTfms ? { itemTfms } : {}),
      ...(batchResizes ? { size } : {}),
      normalize: d.normalize,
      ...(thresh !== undefined ? { thresh } : {}),
    };
  }

  /**
   * Whether work shows progress: a call's own `progress` option if given, else the
   * running fit's, else the learner's (`env.progress = false` silences all anyway).
   * @internal
   */
  showsProgress(call?: boolean): boolean {
    return call ?? this.fitProgress ?? this.progress;
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
   * `learn.save`); returns the file. With `format: 'torch'` the file is fastai's
   * `learn.model.state_dict()` for this arch and head (PyTorch layouts, int64
   * `num_batches_tracked`), which `model.load_state_dict(load_file(f))` takes in fastai.
   */
  save(name: string, opts: SaveOptions = {}): Promise<string> {
    const file = join(this.path, 'models', `${name}.safetensors`);
    if (opts.format === 'torch') {
      if (opts.withOpt) throw new FastvisionError('BAD_OPTION', "save with format 'torch' writes the model only (fastai's state_dict); withOpt is for fastvision checkpoints");
      return saveTorchStateDict(this, file);
    }
    if (opts.format !== undefined && opts.format !== 'fastvision') throw new FastvisionError('BAD_OPTION', `save: format must be 'fastvision' or 'torch', got ${JSON.stringify(opts.format)}`);
    return saveCheckpoint(this, file, opts.withOpt ?? true);
  }

  /**
   * Loads `<path>/models/<name>.safetensors` (or a `.safetensors` path as it is): what
   * {@link save} wrote, or a PyTorch state dict — fastai's learner (`0.*` body, `1.*`
   * head) or a plain torchvision/timm body. Strict by default: a missing or unexpected
   * key or a size mismatch is an error listing them as PyTorch does; `strict: false`
   * loads what matches and returns (and logs) what it skipped. Everything is checked
   * first, so a bad file changes nothing.
   */
  load(nameOrFile: string, opts: LoadOptions = {}): Promise<IncompatibleKeys> {
    const file = nameOrFile.endsWith('.safetensors') ? nameOrFile : join(this.path, 'models', `${nameOrFile}.safetensors`);
    return loadCheckpoint(this, file, opts);
  }

  /** One image (a path or an encoded buffer) → `{ label, index, labels, probs }`, as fastai's `predict`. */
  predict(item: string | Buffer): Promise<Prediction> {
    return predict(this, item);
  }

  /**
   * {@link predict} over many images; with `onBadImage: 'skip'`, images that cannot be
   * decoded are listed in `skipped` (with why) instead of stopping the run.
   */
  predictMany(items: readonly (string | Buffer)[], opts: PredictManyOptions = {}): Promise<ManyPredictions> {
    return predictMany(this, items, opts);
  }

  /**
   * A DataLoader over new images through this learner's validation transforms (fastai's
   * `learn.dls.test_dl`), for {@link getPreds} with `{ dl }`; works on a loaded export too.
   */
  testDl(items: readonly TestItem[], opts: TestDlOptions = {}): Promise<DataLoader> {
    return testDl(this, items, opts);
  }

  /**
   * Writes the model (a plain tfjs layers model: `model.json` and its weights) and
   * `fastvision.json` (vocab, image size, resize method, normalisation, layer groups,
   * threshold, architecture, version) into `dir`. No code is stored: loading an
   * export runs none. See `exportLearner` for what is safe to write.
   */
  export(dir: string): Promise<string> {
    return exportLearner(this, dir);
  }

  /**
   * fastai's `learn.summary()`: each layer's output shape (for one image at the data's
   * size), parameters and whether it trains now, the totals (trainable and frozen
   * apart; BatchNorm's running statistics are buffers, not parameters, as in PyTorch),
   * the frozen state and the callbacks. Returns the table as text with the totals.
   */
  summary(): ModelSummary {
    return modelSummary(this);
  }

  /**
   * fastai's `learn.show_results()`: a batch of validation images captioned
   * `target / predicted`, as a PNG grid; returns the file.
   */
  showResults(opts: ShowResultsOptions = {}): Promise<string> {
    return showResults(this, opts);
  }

  /** Number of layer groups. */
  get nGroups(): number {
    return this.layerGroups.length;
  }

  /** The index of the first trainable layer group (0: unfrozen; `nGroups - 1`: only the head trains). */
  get frozenGroups(): number {
    return this.frozenIdx;
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

  /** The callbacks of the fit that is running (the learner's and the fit's own), in order. */
  get callbacks(): readonly Callback[] {
    return this.activeCbs;
  }

  /** fastai's one-cycle policy (see `fitOneCycle` in `schedule.ts`). */
  fitOneCycle(nEpoch: number, lrMax: HyperValue = this.lr, opts: FitOneCycleOptions = {}): Promise<void> {
    return fitOneCycle(this, nEpoch, lrMax, opts);
  }

  /** fastai's `fine_tune`: one-cycle with the body frozen, then unfrozen with discriminative lrs. */
  fineTune(epochs: number, baseLr = 2e-3, opts: FineTuneOptions = {}): Promise<void> {
    return fineTune(this, epochs, baseLr, opts);
  }

  /**
   * fastai's LR finder: trains at exponentially growing lrs, then restores the model and
   * optimizer exactly and returns the suggestions.
   */
  lrFind(opts: LrFindOptions = {}): Promise<LrFindResult> {
    return lrFind(this, opts);
  }

  /**
   * Trains for `nEpoch` epochs at a constant learning rate (a number, per group, or a
   * {@link slice}), firing fastai's events (see {@link Callback}). Whatever ends it —
   * the last epoch, a `Cancel…Exception`, `opts.signal`, an error — every `after…`
   * event of what was running still fires, so progress bars stop and callbacks clean up.
   */
  async fit(nEpoch: number, lr: HyperValue = this.lr, opts: FitOptions = {}): Promise<void> {
    const o = opts as InternalFitOptions;
    await ensureBackend();
    this.opt.setHyper('lr', expandHyper(lr, this.nGroups, 'lr'));
    this.opt.setHyper('wd', expandHyper(o.wd ?? this.wd, this.nGroups, 'wd'));
    const train = this.dls.train;
    // Without this, lrFind would wait forever for iterations that never come.
    if (train.length === 0) {
      throw new FastvisionError(
        'TRAINING',
        `the training set has ${train.n} images, fewer than one batch of ${train.bs} (the last incomplete batch is dropped); ` +
          `use a batch size of at most ${train.n} (bs), or more images`,
      );
    }
    o.signal?.throwIfAborted();
    this.activeCbs = [...this.cbs, ...(o.cbs ?? [])].sort((a, b) => a.order - b.order);
    for (const cb of this.activeCbs) cb.learn = this;
    this.nEpoch = nEpoch;
    this.trainIter = 0;
    this.pctTrain = 0;
    this.quiet = o.quiet ?? false;
    this.fitProgress = o.progress;
    this.allowNonFinite = o.allowNonFinite ?? false;
    const abort = () => {
      if (o.signal?.aborted) throw new CancelFitException();
    };
    try {
      await this.withEvents('Fit', CancelFitException, async () => {
        for (this.epoch = 0; this.epoch < nEpoch; this.epoch++) {
          abort();
          await this.withEvents('Epoch', CancelEpochException, async () => {
            await this.withEvents('Train', CancelTrainException, () => this.allBatches(true, abort));
            await this.withEvents('Validate', CancelValidException, async () => {
              this.validResults = undefined;
              this.validResults = await this.validate();
            });
          });
        }
      });
    } finally {
      this.compiledSteps.endFit();
      this.lossLog.clear();
      this.disposeGrads();
      this.quiet = false;
      this.fitProgress = undefined;
      this.activeCbs = [];
    }
    o.signal?.throwIfAborted();
  }

  /**
   * fastai's `_with_events`: `before<Name>`, the work, `afterCancel<Name>` when
   * `cancel` ended it, and `after<Name>` whatever happened (then an error, if any,
   * goes on up).
   */
  private async withEvents(name: string, cancel: new () => Error, work: () => Promise<void>, done?: () => void): Promise<void> {
    const before = `before${name}` as EventName;
    const after = `after${name}` as EventName;
    try {
      await this.fire(before);
      await work();
    } catch (err) {
      if (!(err instanceof cancel)) throw err;
      await this.fire(`afterCancel${name}` as EventName);
    } finally {
      done?.();
      await this.fire(after);
    }
  }

  /** Calls `event` on every active callback, in order; batch-loop events honour `runTrain` / `runValid`. */
  private async fire(event: EventName): Promise<void> {
    const inner = innerLoopEvents.has(event);
    for (const cb of this.activeCbs) {
      const handler = cb[event] as (() => void | Promise<void>) | undefined;
      if (!handler) continue;
      if (inner && !(this.training ? cb.runTrain : cb.runValid)) continue;
      await handler.call(cb);
    }
  }

  /** The events that run inside the gradient tape: synchronous, and a returned promise is an error. */
  private fireSync(event: EventName): void {
    for (const cb of this.activeCbs) {
      const handler = cb[event] as (() => unknown) | undefined;
      if (!handler || !(this.training ? cb.runTrain : cb.runValid)) continue;
      const out = handler.call(cb);
      if (out instanceof Promise) {
        throw new FastvisionError('BAD_OPTION', `${cb.constructor.name}.${event} returned a promise; ${event} runs inside the gradient tape of a training step and must be synchronous`);
      }
    }
  }

  /** The epoch's training batches (fastai's `all_batches` for the train set). */
  private async allBatches(training: boolean, abort: () => void): Promise<void> {
    this.training = training;
    this.nIter = this.dls.train.length;
    const total = this.nEpoch * this.nIter;
    const readEveryStep = capabilities().hostMemory;
    const net = this.cachedSplit?.head ?? this.model;
    this.compiledNet = this.compiledSteps.usable(net) ? net : undefined;
    releaseInference(this.model);
    try {
      this.iter = 0;
      for await (const batch of this.batchesOf(this.dls.train)) {
        // fastai's TrainEvalCallback: the counters move before any `afterBatch` handler runs.
        const count = () => {
          this.trainIter++;
          this.pctTrain = this.trainIter / total;
        };
        try {
          abort();
          this.xb = batch.x;
          this.yb = batch.y;
          await this.withEvents('Batch', CancelBatchException, () => this.oneBatch(), count);
        } finally {
          this.endBatch(batch);
        }
        if (readEveryStep) await this.readLosses();
        this.iter++;
      }
      await this.readLosses();
      throwIfDeviceFailed(this.dls.train.bs);
    } catch (err) {
      if (err instanceof CancelTrainException) await this.readLosses();
      throw err;
    } finally {
      this.training = false;
      this.compiledNet = undefined;
      this.compiledSteps.endEpoch();
    }
  }

  /**
   * fastai's `_do_one_batch` for training: forward (`afterPred`), loss (`afterLoss`),
   * backward (`beforeBackward` / `afterBackward`), optimizer step (`beforeStep` /
   * `afterStep`), then the gradients are cleared. Forward, loss and backward run in
   * one gradient tape, so the events inside it are synchronous.
   */
  private async oneBatch(): Promise<void> {
    try {
      await this.trainOn();
    } finally {
      // Before `afterBatch`, however the batch ended, as fastai's recorder sees `learn.loss`.
      if (this.loss) {
        const lrs = this.opt.hypers.map((h) => h.lr.toExponential(3)).join(', ');
        this.lossLog.push(tf.keep(this.loss.clone()), { epoch: this.epoch, iter: this.iter, lrs });
      }
    }
  }

  private async trainOn(): Promise<void> {
    guardBatch(this.cachedSplit?.head ?? this.model, this.xb!.shape);
    if (this.compiledNet && (await this.compiledStep(this.compiledNet))) return;
    const net = this.cachedSplit?.head ?? this.model;
    let backwardCancelled = false;
    let fresh: tf.NamedTensorMap = {};
    try {
      const { grads } = tf.variableGrads(() => {
        this.setPred(net.apply(this.xb!, { training: true }) as tf.Tensor);
        this.fireSync('afterPred');
        this.setLoss(this.lossFunc(this.pred!, this.yb!) as tf.Scalar);
        this.fireSync('afterLoss');
        this.checkFinite();
        this.fireSync('beforeBackward');
        return this.lossGrad!;
      }, this.trainableVariables());
      fresh = grads;
    } catch (err) {
      if (!(err instanceof CancelBackwardException)) throw err;
      backwardCancelled = true;
    }
    await this.finishStep(backwardCancelled ? undefined : fresh, async (grads) => this.opt.step(grads));
  }

  /**
   * The end of every training step, whichever engine computed the gradients:
   * `afterCancelBackward` (no `fresh` gradients) or accumulate + `afterBackward`, then
   * the optimizer step between `beforeStep`/`afterStep`, then fastai's `zero_grad`
   * (a CancelBatchException before here keeps the gradients).
   */
  private async finishStep(fresh: tf.NamedTensorMap | undefined, step: (grads: tf.NamedTensorMap) => Promise<void>): Promise<void> {
    if (!fresh) await this.fire('afterCancelBackward');
    else {
      this.accumulate(fresh);
      await this.fire('afterBackward');
    }
    await this.withEvents('Step', CancelStepException, async () => {
      if (this.grads) await step(this.grads);
    });
    this.disposeGrads();
  }

  /**
   * A step compiled to ONNX: forward, loss, backward and the optimizer step in one
   * graph run, so no event fires inside it; `beforeStep`/`afterStep` still bracket it
   * (a fit whose callbacks handle the events between forward and update runs the split
   * form below). False when the net does not compile after all (then the tfjs step runs).
   */
  private async compiledStep(net: tf.LayersModel): Promise<boolean> {
    if (this.compiledSteps.split) return this.splitCompiledStep(net);
    const value = await this.compiledSteps.step(net, this.xb!, this.yb!);
    if (value === undefined) {
      this.compiledNet = undefined;
      return false;
    }
    this.setLoss(tf.scalar(value));
    if (!this.allowNonFinite && !Number.isFinite(value)) {
      this.compiledSteps.undoLastStep();
      this.throwNonFinite(value);
    }
    await this.withEvents('Step', CancelStepException, async () => {});
    return true;
  }

  /**
   * A compiled step in two graphs, for callbacks that handle the events between forward
   * and update: the loss, the gradients and (for `afterPred`) the logits come out, the
   * events fire in fastai's order on them as on tfjs (`afterLoss` and `beforeBackward`
   * may rescale `lossGrad`, and the gradients follow; `afterBackward` and `beforeStep`
   * see `learn.grads`: GradientClip changes them, GradientAccumulation skips steps and
   * they add up), then the update graph applies them. A callback that replaces
   * `learn.pred` sends this batch and the rest of the fit to tfjs.
   */
  private async splitCompiledStep(net: tf.LayersModel): Promise<boolean> {
    const out = await this.compiledSteps.gradients(net, this.xb!, this.yb!);
    if (!out) {
      this.compiledNet = undefined;
      return false;
    }
    let grads = out.grads;
    let backwardCancelled = false;
    try {
      if (out.pred) {
        this.setPred(out.pred);
        this.fireSync('afterPred');
        if (this.pred !== out.pred) {
          tf.dispose(Object.values(grads));
          this.compiledSteps.abandon(net);
          this.compiledNet = undefined;
          return false;
        }
      }
      this.setLoss(tf.scalar(out.loss));
      const lossGrad = this.lossGrad;
      await this.fire('afterLoss');
      if (!this.allowNonFinite && !Number.isFinite(out.loss)) this.throwNonFinite(out.loss);
      this.fireSync('beforeBackward');
      if (this.lossGrad !== lossGrad) {
        // A zero loss has (near-)zero gradients, whatever the factor.
        const scale = out.loss === 0 ? 1 : (await this.lossGrad!.data())[0]! / out.loss;
        const scaled = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)])));
        tf.dispose(Object.values(grads));
        grads = scaled;
      }
    } catch (err) {
      tf.dispose(Object.values(grads));
      if (!(err instanceof CancelBackwardException)) throw err;
      backwardCancelled = true;
    }
    await this.finishStep(backwardCancelled ? undefined : grads, (g) => this.compiledSteps.applyGradients(net, g));
    return true;
  }

  private throwNonFinite(value: number): never {
    const lrs = this.opt.hypers.map((h) => h.lr.toExponential(3)).join(', ');
    throw new FastvisionError('TRAINING', `the training loss is ${value} at epoch ${this.epoch}, iteration ${this.iter} (lr ${lrs}); training stopped`);
  }

  /** On wasm and cpu, where a read is free, a non-finite loss stops the fit before its step. */
  private checkFinite(): void {
    if (this.allowNonFinite || !capabilities().hostMemory) return;
    const value = this.loss!.dataSync()[0]!;
    if (!Number.isFinite(value)) this.throwNonFinite(value);
  }

  /**
   * Puts `t` in a batch field. Kept (it may be made inside the gradient tape's scope);
   * the tensor it replaces is freed when the batch ends, not now: it may still be part
   * of the graph being differentiated.
   */
  private replaceBatchTensor(field: keyof Learner['batchTensors'], t: tf.Tensor | undefined): void {
    const old = this.batchTensors[field];
    if (old === t) return;
    if (old) this.replaced.push(old);
    if (t) tf.keep(t);
    (this.batchTensors as Record<string, tf.Tensor | undefined>)[field] = t;
  }

  private setPred(pred: tf.Tensor): void {
    this.pred = pred;
  }

  private setLoss(lossGrad: tf.Scalar): void {
    this.lossGrad = lossGrad;
    this.loss = tf.clone(lossGrad);
  }

  /** New gradients, added to those a cancelled batch kept (gradient accumulation). */
  private accumulate(fresh: tf.NamedTensorMap): void {
    if (!this.grads) {
      this.grads = fresh;
      return;
    }
    const sum: tf.NamedTensorMap = {};
    for (const name of new Set([...Object.keys(this.grads), ...Object.keys(fresh)])) {
      const [a, b] = [this.grads[name], fresh[name]];
      sum[name] = a && b ? tf.add(a, b) : (a ?? b)!.clone();
    }
    this.disposeGrads();
    tf.dispose(Object.values(fresh));
    this.grads = sum;
  }

  private disposeGrads(): void {
    if (this.grads) tf.dispose(Object.values(this.grads));
    this.grads = undefined;
  }

  /**
   * The batch is over: every tensor of it is freed — the loader's, and whatever
   * callbacks put in `xb`, `yb`, `pred`, `lossGrad`, `loss` (a callback that replaces
   * one need not free the old one).
   */
  private endBatch(batch: Batch): void {
    const mine = new Set<tf.Tensor>([batch.x, batch.y, ...this.replaced, ...Object.values(this.batchTensors)]);
    tf.dispose([...mine]);
    this.replaced = [];
    this.batchTensors = {};
  }

  /**
   * Reads the training losses not read yet (one transfer from the backend), hands them
   * to the recorder and returns them. The loop calls it once per epoch on device
   * backends and after every step on wasm and cpu; a callback that needs each step's
   * loss on a GPU (as the LR finder does) calls it itself.
   *
   * @returns The losses read, in step order.
   * @throws at a non-finite loss (outside `lrFind`), naming its epoch, iteration and lr.
   */
  async readLosses(): Promise<number[]> {
    if (!this.lossLog.size) return [];
    const values = await this.lossLog.read(this.allowNonFinite);
    this.recorder.addLosses(values);
    return values;
  }

  /** A pass over `dl`: images, or body features when this fit trains the head on cached features. */
  private batchesOf(dl: DataLoader): AsyncIterable<Batch> {
    return this.cachedSplit ? this.featureCache!.batches(dl, this.cachedSplit.body) : dl;
  }

  /** `[valid_loss, ...metrics]` over the validation set, firing `afterPred` and `afterLoss` for each batch. */
  private validate(): Promise<number[]> {
    return this.evaluateBatches(this.batchesOf(this.dls.valid), this.cachedSplit?.head ?? this.model, true);
  }

  /** `[loss, ...metrics]` over a DataLoader, batch-size weighted, in inference mode. */
  async evaluate(dl: DataLoader): Promise<number[]> {
    const bar = progressBar('evaluating', dl.length, { show: this.showsProgress() });
    let done = 0;
    try {
      return await this.evaluateBatches(dl, this.model, false, () => bar.update(++done));
    } finally {
      bar.stop();
    }
  }

  private async evaluateBatches(batches: AsyncIterable<Batch>, net: tf.LayersModel, events: boolean, onBatch?: () => void): Promise<number[]> {
    for (const m of this.metrics) m.reset();
    // Accumulated on the backend and read once at the end: no device sync per batch.
    let total: tf.Scalar = tf.keep(tf.scalar(0));
    let n = 0;
    // ONNX Runtime, or tfjs with BatchNorm folded into the convolutions, for this pass's weights.
    const runner = inferenceRunner(net);
    try {
      const one = async () => {
        this.pred = await runner.run(this.xb! as tf.Tensor4D);
        if (events) await this.fire('afterPred');
        this.loss = tf.tidy(() => this.lossFunc(this.pred!, this.yb!) as tf.Scalar);
        if (events) await this.fire('afterLoss');
        const bs = this.yb!.shape[0]!;
        const next = tf.tidy(() => tf.add(total, tf.mul(this.loss!, bs)) as tf.Scalar);
        total.dispose();
        total = tf.keep(next);
        n += bs;
        for (const m of this.metrics) m.accumulate(this.pred!, this.yb!);
      };
      for await (const batch of batches) {
        this.xb = batch.x;
        this.yb = batch.y;
        try {
          if (events) await this.withEvents('Batch', CancelBatchException, one);
          else await one();
        } finally {
          this.endBatch(batch);
        }
        onBatch?.();
      }
      const loss = (await total.data())[0]! / n;
      return [loss, ...(await Promise.all(this.metrics.map((m) => m.value())))];
    } finally {
      for (const m of this.metrics) m.reset(); // frees what they kept on the backend
      total.dispose();
      runner.dispose();
    }
  }
}

function isBatchNorm(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'BatchNormalization';
}
