import type * as tf from '../core/tf.js';
import { imagenetStats, type NormStats } from '../data/normalize.js';
import { buildMobilenetV2 } from './archs/mobilenetV2.js';
import { buildResnet, resnetConfigs } from './archs/resnet.js';
import { timmMobilenetV2Keys } from './keyMaps.js';
import type { KeyMap } from './torchWeights.js';

/** The architectures fastvision builds, with pretrained ImageNet weights. */
export type ArchName = 'resnet18' | 'resnet34' | 'resnet50' | 'mobilenetV2';

/**
 * ResNet-18, as fastai's `resnet18` argument to `vision_learner`.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet18, { metrics: [errorRate] });
 * ```
 */
export const resnet18: ArchName = 'resnet18';
/**
 * ResNet-34: the study's architecture.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { metrics: [errorRate] });
 * ```
 */
export const resnet34: ArchName = 'resnet34';
/**
 * ResNet-50.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet50, { metrics: [errorRate] });
 * ```
 */
export const resnet50: ArchName = 'resnet50';
/**
 * MobileNetV2 (width 1.0).
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, mobilenetV2, { metrics: [errorRate] });
 * ```
 */
export const mobilenetV2: ArchName = 'mobilenetV2';

/** One architecture's pretrained configuration: one row of {@link pretrainedConfigs}, as timm's `default_cfg`. */
export interface PretrainedConfig {
  /** Builds the ImageNet model (1000 classes); layer names are torchvision's module paths with `_`. */
  build: () => tf.LayersModel;
  /** Model-hub repository and file of the safetensors weights. */
  hubRepo: string;
  hubFile: string;
  /**
   * The hub revision: an immutable commit hash where it is known, else `'main'`. (The
   * hashes could not be looked up where fastvision is built, which has no internet;
   * files are then pinned on first use, see `sha256`.)
   */
  revision: string;
  /**
   * Size and sha256 of the file, when known. Without them the first file used is
   * trusted and recorded (`<cacheDir>/hub/pins.json`), and every later one must match.
   */
  bytes?: number;
  sha256?: string;
  /** How the file names its tensors, when not as torchvision does. */
  keyMap?: KeyMap;
  /** What the weights were trained on: the normalisation the body expects. */
  stats: NormStats;
  /**
   * The body's layer groups, by torchvision top-level module (a layer belongs to a
   * group when its name is one of these or starts with one and `_`). Layers in no
   * group (the classifier) are not part of the body; the body ends at its last layer.
   */
  groups: string[][];
  /** Input size the weights were trained at. */
  inputSize: number;
}

const resnetGroups = [
  ['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2'],
  ['layer3', 'layer4'],
];
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `features_${from + i}`);

/**
 * The pretrained weights fastvision knows. The ResNets are torchvision's own
 * checkpoints (`*.tv_in1k`, what fastai used), in timm's safetensors files on the
 * model hub; MobileNetV2 is timm's `mobilenetv2_100.ra_in1k`.
 *
 * ResNet groups are fastai's `_resnet_split` (stem to layer2 | layer3 and layer4 |
 * head). MobileNetV2 has no fastai split; fastvision cuts it where the 64-channel
 * stage begins (features 0–6 at strides up to 8 | features 7–18 | head).
 *
 * @example
 * ```ts
 * pretrainedConfigs.resnet34.hubRepo;   // 'timm/resnet34.tv_in1k'
 * ```
 */
export const pretrainedConfigs: Readonly<Record<ArchName, PretrainedConfig>> = {
  resnet18: { build: () => buildResnet(resnetConfigs.resnet18, 1000, 'resnet18'), hubRepo: 'timm/resnet18.tv_in1k', hubFile: 'model.safetensors', revision: 'main', stats: imagenetStats, groups: resnetGroups, inputSize: 224 },
  resnet34: { build: () => buildResnet(resnetConfigs.resnet34, 1000, 'resnet34'), hubRepo: 'timm/resnet34.tv_in1k', hubFile: 'model.safetensors', revision: 'main', stats: imagenetStats, groups: resnetGroups, inputSize: 224 },
  resnet50: { build: () => buildResnet(resnetConfigs.resnet50, 1000, 'resnet50'), hubRepo: 'timm/resnet50.tv_in1k', hubFile: 'model.safetensors', revision: 'main', stats: imagenetStats, groups: resnetGroups, inputSize: 224 },
  mobilenetV2: {
    build: () => buildMobilenetV2(1000, 'mobilenetV2'),
    hubRepo: 'timm/mobilenetv2_100.ra_in1k',
    hubFile: 'model.safetensors',
    revision: 'main',
    keyMap: timmMobilenetV2Keys,
    stats: imagenetStats,
    groups: [range(0, 6), range(7, 18)],
    inputSize: 224,
  },
};
