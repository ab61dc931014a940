import * as tf from '../core/tf.js';
import type { NormStats } from '../data/normalize.js';
import { bodyFromArch, type ArchBodyOptions, type VisionBody } from './body.js';
import { createHead, headOptionNames, type HeadOptions } from './head.js';
import type { ArchName } from './pretrained.js';
import { FastvisionError } from '../core/errors.js';

/** Options of {@link createVisionModel}: where the body comes from, and fastai's head options. */
export interface VisionModelOptions extends ArchBodyOptions, HeadOptions {}

/** A body and a head in one model, with fastai's layer groups: what a Learner trains. */
export interface VisionModel {
  /** Images `[batch, h, w, 3]` (any size) → logits `[batch, nOut]`. */
  model: tf.LayersModel;
  /** The body on its own (shares layers and weights with `model`). */
  body: tf.LayersModel;
  /** The head's layers. */
  head: tf.layers.Layer[];
  /** Layer groups, earliest first; the head is the last. Discriminative learning rates address these. */
  layerGroups: tf.layers.Layer[][];
  /** Normalisation the body expects; DataLoaders should apply it. */
  normalize: NormStats;
  /** The body's name (architecture). */
  arch: string;
}

/**
 * The model `visionLearner` trains: a pretrained body (an architecture name or any
 * {@link VisionBody}) with fastai's head for `nOut` classes, in layer groups.
 *
 * @example
 * ```ts
 * const { model, layerGroups } = await createVisionModel('resnet34', dls.c);
 * ```
 *
 * @param arch - An architecture name (`'resnet34'`...) or a body from {@link fromLayersModel}.
 * @param nOut - Number of classes.
 * @param opts - `pretrained` (default true), download options, and fastai's head options.
 */
export async function createVisionModel(arch: ArchName | VisionBody, nOut: number, opts: VisionModelOptions = {}): Promise<VisionModel> {
  if (!(Number.isInteger(nOut) && nOut >= 1)) throw new FastvisionError('BAD_OPTION', `fastvision: nOut must be a whole number ≥ 1, got ${String(nOut)}`);
  const body = typeof arch === 'string' ? await bodyFromArch(arch, opts) : arch;
  const features = body.model.outputs[0]!;
  const headOpts = Object.fromEntries(headOptionNames.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]])) as HeadOptions;
  const logits = createHead(features, nOut, headOpts);
  const model = tf.model({ inputs: body.model.inputs, outputs: logits, name: `${body.name}_classifier` });
  const bodySet = new Set(body.model.layers);
  const head = model.layers.filter((l) => !bodySet.has(l));
  return { model, body: body.model, head, layerGroups: [...body.groups, head], normalize: body.stats, arch: body.name };
}
