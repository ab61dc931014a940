import type { DataLoaders } from '../data/dataLoaders.js';
import type { VisionBody } from '../vision/body.js';
import type { ArchName } from '../vision/pretrained.js';
import { createVisionModel, type VisionModelOptions } from '../vision/visionModel.js';
import { Learner, type LearnerOptions } from './learner.js';
import { ensureBackend } from '../engine/backend.js';

/** Options of {@link visionLearner}: the learner's, the model's, and fastai's `normalize`. */
export interface VisionLearnerOptions extends Omit<LearnerOptions, 'layerGroups'>, VisionModelOptions {
  /** Give the DataLoaders the pretrained body's statistics, if they have none. Default true. */
  normalize?: boolean;
}

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
  const pretrained = typeof arch !== 'string' || (opts.pretrained ?? true);
  const vm = await createVisionModel(arch, dls.c, opts);
  if (pretrained && (opts.normalize ?? true) && !dls.normalize) dls.normalize = vm.normalize;
  const learn = new Learner(dls, vm.model, { ...opts, layerGroups: vm.layerGroups, arch: vm.arch });
  if (pretrained) learn.freeze();
  return learn;
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
