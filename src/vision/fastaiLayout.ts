import type * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';
import { timmMobilenetV2Keys } from './keyMaps.js';
import { resnetConfigs } from './archs/resnet.js';
import { torchParam } from './torchWeights.js';

/**
 * How a PyTorch file names a model's weights:
 * - `fastai`: a fastai Learner's `learn.model.state_dict()`, `nn.Sequential(body, head)`:
 *   `0.*` the body, `1.*` the head;
 * - `torchvision`: a plain torchvision model (`conv1.weight`, `layer1.0.conv1.weight`,
 *   `features.0.0.weight`), body only;
 * - `timm`: timm's names for MobileNetV2 (`conv_stem.weight`, `blocks.0.0.conv_dw.weight`), body only.
 */
export type TorchNaming = 'fastai' | 'torchvision' | 'timm';

/** One weight of a model under its PyTorch key. */
export interface TorchKey {
  key: string;
  layer: tf.layers.Layer;
  /** Index into `layer.weights`. */
  index: number;
  /** The tfjs weight's own name (`kernel`, `gamma`, `moving_mean`…). */
  param: string;
}

/** A model's weights under one naming, and the `num_batches_tracked` keys its BatchNorms have in PyTorch. */
export interface TorchLayout {
  naming: TorchNaming;
  entries: TorchKey[];
  /** One per BatchNorm: PyTorch keeps an int64 batch counter that fastvision does not. */
  counters: string[];
}

/**
 * Where fastai's body puts torchvision's top-level ResNet modules: `create_body`
 * keeps `children()[:-2]`, so conv1, bn1, relu, maxpool, layer1…layer4 become `0.0`…`0.7`.
 */
const resnetChildren: Record<string, number> = { conv1: 0, bn1: 1, layer1: 4, layer2: 5, layer3: 6, layer4: 7 };

/**
 * The architectures whose fastai layout fastvision knows, and the last layer of the
 * body fastai cuts (a learner cut elsewhere has no fastai equivalent).
 * MobileNetV2 is fastai's `vision_learner(dls, 'mobilenetv2_100')`: a timm model in
 * `TimmBody` (`0.model.*`, timm's names, no classifier as `num_classes=0`).
 */
const fastaiArchs: Record<string, { bodyEnd: string; bodyKey: (torchvisionKey: string) => string | undefined }> = {
  ...Object.fromEntries(
    Object.entries(resnetConfigs).map(([arch, config]) => [
      arch,
      {
        bodyEnd: `layer4_${config.layers[3] - 1}_relu${config.block === 'basic' ? 2 : 3}`,
        bodyKey: (key: string) => {
          const [top, ...rest] = key.split('.');
          const child = resnetChildren[top!];
          return child === undefined ? undefined : ['0', child, ...rest].join('.');
        },
      },
    ]),
  ),
  mobilenetV2: {
    bodyEnd: 'features_18_2',
    bodyKey: (key: string) => (key.startsWith('features.') ? `0.model.${timmMobilenetV2Keys(key)}` : undefined),
  },
};

/** The architectures {@link torchLayout} maps. */
export const torchLayoutArchs: readonly string[] = Object.keys(fastaiArchs);

/**
 * The PyTorch keys of every weight of a vision learner's model (a body fastvision
 * builds, fastai's head), as fastai's `learn.model.state_dict()` names them — or, for
 * `torchvision`/`timm`, the body's weights as the plain architecture names them.
 *
 * fastai's head is one flat `nn.Sequential`; its indices count every module, weighted
 * or not: pool (0), Flatten (1), then per linear layer [BatchNorm1d] [Dropout if p > 0]
 * Linear [ReLU], then [BatchNorm1d (bn_final)] [SigmoidRange]. fastvision's head has
 * one layer per module in the same order (its concat pool is three layers, and its
 * pooling already flattens), so the indices are read off the model's own layers and
 * every head option shifts them as it does in fastai.
 *
 * @param model - A learner's model (`learn.model`), built by `visionLearner` from `arch`.
 * @param arch - The architecture (`learn.arch`).
 * @param naming - Which file layout. Default `fastai`.
 */
export function torchLayout(model: tf.LayersModel, arch: string | undefined, naming: TorchNaming = 'fastai'): TorchLayout {
  const spec = arch === undefined ? undefined : fastaiArchs[arch];
  if (!spec) {
    throw new FastvisionError('BAD_OPTION', `PyTorch weight files are mapped for the architectures fastvision builds (${torchLayoutArchs.join(', ')}); this learner's is ${arch ?? 'a custom body'}`);
  }
  if (!model.layers.some((l) => l.name === spec.bodyEnd)) {
    throw new FastvisionError('BAD_OPTION', `this ${arch} learner's body is cut before '${spec.bodyEnd}', where fastai cuts ${arch}; its weights have no fastai layout`);
  }
  const entries: TorchKey[] = [];
  const counters: string[] = [];
  let headIndex = 2; // after the pool and Flatten
  for (const layer of model.layers) {
    const head = layer.name.startsWith('head_');
    let module: string | undefined;
    if (head) {
      if (naming !== 'fastai') continue;
      if (['BatchNormalization', 'Dropout', 'Dense', 'ReLU', 'Activation'].includes(layer.getClassName())) module = `1.${headIndex++}`;
    } else if (layer.weights.length) {
      const torchvisionModule = layer.name.replaceAll('_', '.');
      module = naming === 'torchvision' ? torchvisionModule : naming === 'timm' ? stripParam(timmMobilenetV2Keys(`${torchvisionModule}.weight`)) : stripParam(spec.bodyKey(`${torchvisionModule}.weight`));
      if (module === undefined) throw new FastvisionError('BAD_OPTION', `layer '${layer.name}' of this ${arch} learner is not part of fastai's ${arch} body`);
    }
    if (module === undefined || layer.weights.length === 0) continue;
    layer.weights.forEach((w, index) => {
      const param = w.originalName.split('/').pop()!;
      const name = torchParam[param];
      if (!name) throw new FastvisionError('BAD_OPTION', `weight '${w.originalName}' of layer '${layer.name}' has no PyTorch equivalent`);
      entries.push({ key: `${module}.${name}`, layer, index, param });
    });
    if (layer.getClassName() === 'BatchNormalization') counters.push(`${module}.num_batches_tracked`);
  }
  return { naming, entries, counters };
}

function stripParam(key: string | undefined): string | undefined {
  return key?.slice(0, key.lastIndexOf('.'));
}
