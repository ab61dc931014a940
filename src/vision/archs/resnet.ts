import * as tf from '../../core/tf.js';
import { add, batchNorm, classifier, conv, imageInput, pad, relu, type Sym } from './layers.js';

/** torchvision's ResNet, channels-last; layer names follow torchvision's state-dict keys with `_` for `.`. */
export interface ResNetConfig {
  block: 'basic' | 'bottleneck';
  layers: [number, number, number, number];
}

/**
 * torchvision's ResNet depths: block type and blocks per stage.
 *
 * @example
 * ```ts
 * const resnet50 = buildResnet(resnetConfigs.resnet50);
 * ```
 */
export const resnetConfigs = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
} as const satisfies Record<string, ResNetConfig>;

const expansion = { basic: 1, bottleneck: 4 } as const;

function basicBlock(x: Sym, planes: number, stride: number, downsample: boolean, name: string): Sym {
  let y = relu(batchNorm(conv(x, { filters: planes, kernel: 3, stride, pad: 1, name: `${name}_conv1` }), `${name}_bn1`), `${name}_relu1`);
  y = batchNorm(conv(y, { filters: planes, kernel: 3, pad: 1, name: `${name}_conv2` }), `${name}_bn2`);
  return relu(add(y, shortcut(x, planes, stride, downsample, name), `${name}_add`), `${name}_relu2`);
}

// torchvision v1.5: the stride sits on the 3×3 conv, not the first 1×1.
function bottleneck(x: Sym, planes: number, stride: number, downsample: boolean, name: string): Sym {
  let y = relu(batchNorm(conv(x, { filters: planes, kernel: 1, name: `${name}_conv1` }), `${name}_bn1`), `${name}_relu1`);
  y = relu(batchNorm(conv(y, { filters: planes, kernel: 3, stride, pad: 1, name: `${name}_conv2` }), `${name}_bn2`), `${name}_relu2`);
  y = batchNorm(conv(y, { filters: planes * 4, kernel: 1, name: `${name}_conv3` }), `${name}_bn3`);
  return relu(add(y, shortcut(x, planes * 4, stride, downsample, name), `${name}_add`), `${name}_relu3`);
}

function shortcut(x: Sym, filters: number, stride: number, downsample: boolean, name: string): Sym {
  if (!downsample) return x;
  return batchNorm(conv(x, { filters, kernel: 1, stride, name: `${name}_downsample_0` }), `${name}_downsample_1`);
}

/**
 * Builds a ResNet with a `classes`-way head (1000 = ImageNet's, as torchvision).
 *
 * @param config - One of {@link resnetConfigs}.
 * @param classes - Outputs of the classifier. Default 1000.
 * @param name - The model's name. Default `'resnet'`.
 *
 * @example
 * ```ts
 * const model = buildResnet(resnetConfigs.resnet18, 10);
 * ```
 */
export function buildResnet(config: ResNetConfig, classes = 1000, name = 'resnet'): tf.LayersModel {
  const input = imageInput();
  let x = relu(batchNorm(conv(input, { filters: 64, kernel: 7, stride: 2, pad: 3, name: 'conv1' }), 'bn1'), 'relu');
  // Zero padding equals PyTorch's −inf padding here: the input is post-ReLU, so ≥ 0.
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'maxpool' }).apply(pad(x, 1, 'maxpool_pad')) as Sym;
  const makeBlock = config.block === 'basic' ? basicBlock : bottleneck;
  let inChannels = 64;
  config.layers.forEach((blocks, stage) => {
    const planes = 64 * 2 ** stage;
    for (let b = 0; b < blocks; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const downsample = b === 0 && (stride !== 1 || inChannels !== planes * expansion[config.block]);
      x = makeBlock(x, planes, stride, downsample, `layer${stage + 1}_${b}`);
      inChannels = planes * expansion[config.block];
    }
  });
  return tf.model({ inputs: input, outputs: classifier(x, classes, 'fc'), name });
}
