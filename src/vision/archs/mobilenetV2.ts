import * as tf from '../../core/tf.js';
import { add, batchNorm, classifier, conv, depthwiseConv, imageInput, relu6, type Sym } from './layers.js';

/** torchvision's inverted-residual settings: expansion t, channels c, repeats n, first stride s. */
const settings: [t: number, c: number, n: number, s: number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

function convBnRelu6(x: Sym, filters: number, kernel: number, stride: number, name: string): Sym {
  const y = conv(x, { filters, kernel, stride, pad: (kernel - 1) / 2, name: `${name}_0` });
  return relu6(batchNorm(y, `${name}_1`), `${name}_2`);
}

function invertedResidual(x: Sym, inC: number, outC: number, stride: number, t: number, name: string): Sym {
  let y = x;
  let i = 0;
  if (t !== 1) y = convBnRelu6(y, inC * t, 1, 1, `${name}_conv_${i++}`);
  const dwName = `${name}_conv_${i++}`;
  y = relu6(batchNorm(depthwiseConv(y, { kernel: 3, stride, pad: 1, name: `${dwName}_0` }), `${dwName}_1`), `${dwName}_2`);
  y = conv(y, { filters: outC, kernel: 1, name: `${name}_conv_${i++}` });
  y = batchNorm(y, `${name}_conv_${i}`);
  return stride === 1 && inC === outC ? add(x, y, `${name}_add`) : y;
}

/**
 * MobileNetV2 (width 1.0) as torchvision defines it; layer names follow its state-dict keys.
 *
 * @param classes - Outputs of the ImageNet-style classifier. Default 1000.
 * @param name - The model's name. Default `'mobilenet_v2'`.
 *
 * @example
 * ```ts
 * const model = buildMobilenetV2();   // random weights; see pretrainedWeights for ImageNet's
 * ```
 */
export function buildMobilenetV2(classes = 1000, name = 'mobilenet_v2'): tf.LayersModel {
  const input = imageInput();
  let x = convBnRelu6(input, 32, 3, 2, 'features_0');
  let inC = 32;
  let index = 1;
  for (const [t, c, n, s] of settings) {
    for (let r = 0; r < n; r++) {
      x = invertedResidual(x, inC, c, r === 0 ? s : 1, t, `features_${index++}`);
      inC = c;
    }
  }
  x = convBnRelu6(x, 1280, 1, 1, `features_${index}`);
  // torchvision's Dropout(0.2) before the classifier is identity at inference and
  // changes no parameter count; the learner's head brings its own dropout.
  return tf.model({ inputs: input, outputs: classifier(x, classes, 'classifier_1'), name });
}
