import type { DataLoaders } from '../data/dataLoaders.js';
import type { VisionBody } from '../vision/body.js';
import type { ArchName } from '../vision/pretrained.js';
import { createVisionModel, type VisionModelOptions } from '../vision/visionModel.js';
import { Learner, type LearnerOptions } from './learner.js';
import type * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';
import { ensureBackend } from '../engine/backend.js';
import { headOptionNames } from '../vision/head.js';

/** Options of {@link visionLearner}: the learner's, the model's, and fastai's `normalize`, `n_out`, `splitter`. */
export interface VisionLearnerOptions extends Omit<LearnerOptions, 'layerGroups'>, VisionModelOptions {
  /** Give the DataLoaders the pretrained body's statistics, if they have none. Default true. */
  normalize?: boolean;
  /** The head's outputs. Default `dls.c` (the number of classes). */
  nOut?: number;
  /**
   * fastai's `splitter`: the model's layer groups, earliest first, from the model, its
   * body and its head's layers. Default: the architecture's groups and the head.
   */
  splitter?: (model: tf.LayersModel, parts: { body: tf.LayersModel; head: tf.layers.Layer[] }) => tf.layers.Layer[][];
}

/** Every option {@link visionLearner} takes: anything else is a mistake, and an error. */
const visionLearnerOptionNames = [
  // LearnerOptions
  'lossFunc', 'metrics', 'wd', 'trainBn', 'cbs', 'lr', 'moms', 'logger', 'arch', 'inference', 'featureCache',
  // Both LearnerOptions and VisionModelOptions: the learner's bars and the download's
  'progress',
  // VisionModelOptions: body and download, head
  'pretrained', 'cut', 'offline', ...headOptionNames,
  // visionLearner's own
  'normalize', 'nOut', 'splitter',
];

/**
 * fastai's `vision_learner`: a pretrained body with fastai's head for `dls.c` classes,
 * in layer groups, with the body's normalisation added to `dls`; a pretrained model
 * starts frozen (only the head and BatchNorm layers train).
 *
 * (It lives with the learner, not in `vision/`, so that `vision/` does not depend on
 * the training loop.)
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [errorRate] });
 * await learn.fitOneCycle(5, 1e-3);
 * ```
 *
 * @param dls - The data; its `c` sets the head's outputs.
 * @param arch - An architecture name (`resnet34`...) or a body from {@link fromLayersModel}.
 * @param opts - Learner options (metrics, wd, callbacks...), `pretrained` (default true), head options, `normalize` (default true).
 */
export async function visionLearner(dls: DataLoaders, arch: ArchName | VisionBody, opts: VisionLearnerOptions = {}): Promise<Learner> {
  await ensureBackend();
  const unknown = Object.keys(opts).filter((k) => !visionLearnerOptionNames.includes(k));
  if (unknown.length) {
    throw new FastvisionError('BAD_OPTION', `visionLearner does not know the option(s) ${unknown.map((k) => `'${k}'`).join(', ')}; it takes ${visionLearnerOptionNames.join(', ')}`);
  }
  const pretrained = typeof arch !== 'string' || (opts.pretrained ?? true);
  const vm = await createVisionModel(arch, opts.nOut ?? dls.c, opts);
  if (pretrained && (opts.normalize ?? true) && !dls.normalize) dls.normalize = vm.normalize;
  const layerGroups = opts.splitter ? checkGroups(opts.splitter(vm.model, { body: vm.body, head: vm.head }), vm.model) : vm.layerGroups;
  const learn = new Learner(dls, vm.model, { ...opts, layerGroups, arch: vm.arch });
  if (pretrained) learn.freeze();
  return learn;
}

/** A splitter's groups, checked: non-empty lists of the model's own layers, none twice. */
function checkGroups(groups: tf.layers.Layer[][], model: tf.LayersModel): tf.layers.Layer[][] {
  const own = new Set(model.layers);
  const seen = new Set<tf.layers.Layer>();
  if (!Array.isArray(groups) || groups.length === 0) throw new FastvisionError('BAD_OPTION', 'the splitter returned no layer groups');
  groups.forEach((g, i) => {
    if (!Array.isArray(g) || g.length === 0) throw new FastvisionError('BAD_OPTION', `the splitter's layer group ${i} is empty`);
    for (const l of g) {
      if (!own.has(l)) throw new FastvisionError('BAD_OPTION', `the splitter's layer group ${i} holds '${l?.name}', which is not a layer of the model`);
      if (seen.has(l)) throw new FastvisionError('BAD_OPTION', `the splitter puts layer '${l.name}' in two groups`);
      seen.add(l);
    }
  });
  return groups;
}

/**
 * fastai's old name for {@link visionLearner}.
 *
 * @example
 * ```ts
 * const learn = await cnnLearner(dls, resnet34, { metrics: [errorRate] });
 * ```
 */
export const cnnLearner = visionLearner;
