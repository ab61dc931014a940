import * as tf from '../../core/tf.js';
import { foldsPaddingInTraining } from '../capabilities.js';
import { nodeIn, soleReader } from './graph.js';
import { overrideTraining } from './layerOverrides.js';
import { zeroPaddingFields, type ConvFields } from './privateFields.js';

/**
 * Training-mode convolutions through `tf.conv2d` / `tf.depthwiseConv2d`, with a
 * preceding ZeroPadding2D folded into the convolution's own padding.
 *
 * - tfjs-layers trains Conv2D through `tf.fused.conv2d`, whose gradient is a
 *   `customGrad` that computes the input gradient and the filter gradient together,
 *   whether or not anything needs the former. The first convolution's input is the
 *   image batch, so every step paid for a gradient with respect to the pixels (on
 *   wasm, ~10% of a ResNet-18 step). `tf.conv2d`'s gradient is computed per input,
 *   only for inputs on the path to a trained variable.
 * - torchvision-exact architectures pad explicitly (ZeroPadding2D, then a 'valid'
 *   convolution). In training the padded copy is what the convolution keeps for its
 *   gradient, next to the unpadded tensor the layer before keeps: one extra
 *   activation per convolution, plus a copy forward and a slice backward. Padding in
 *   the convolution itself keeps one — on backends whose gradient kernels accept
 *   explicit padding (wasm, cpu). tfjs-node's refuse it, so there the ZeroPadding2D
 *   layer stays.
 */

type Explicit = [[number, number], [number, number], [number, number], [number, number]];
const foldedPad = Symbol('fastvision.foldedPad');
type Conv = tf.layers.Layer & ConvFields & { [foldedPad]?: Explicit };

const dilations = (c: ConvFields): [number, number] => {
  const d = c.dilationRate;
  return Array.isArray(d) ? [d[0]!, d[1] ?? d[0]!] : [d, d];
};

/**
 * ZeroPadding2D layers whose only reader in `model` is a 'valid', undilated,
 * channels-last convolution: where the backend allows it, the convolution takes over
 * the padding in training and the padding layer passes its input through.
 */
function foldPadding(model: tf.LayersModel): void {
  const readerOf = soleReader(model);
  for (const pad of model.layers) {
    if (pad.getClassName() !== 'ZeroPadding2D') continue;
    const conv = readerOf(nodeIn(model, pad).outputTensors[0]!) as Conv | undefined;
    if (!conv) continue;
    const kind = conv.getClassName();
    const plain = conv.padding === 'valid' && conv.dataFormat === 'channelsLast' && dilations(conv).every((d) => d === 1);
    if ((kind !== 'Conv2D' && kind !== 'DepthwiseConv2D') || !plain) continue;
    const [[t, b], [l, r]] = zeroPaddingFields(pad).padding;
    conv[foldedPad] = [[0, 0], [t, b], [l, r], [0, 0]];
    overrideTraining(model, 'ZeroPadding2D', (p) => p === pad, (_, x) => (foldsPaddingInTraining() ? x.clone() : undefined));
  }
}

/**
 * Conv2D and DepthwiseConv2D train through `tf.conv2d` / `tf.depthwiseConv2d`, with
 * padding folded in where the active backend's gradient kernels take explicit
 * padding (decided at every call). Idempotent; returns how many layers it switched.
 */
export function useLeanConvGradients(model: tf.LayersModel): number {
  foldPadding(model);
  const padOf = (c: Conv) => (c[foldedPad] && foldsPaddingInTraining() ? c[foldedPad] : c.padding);
  const applies = (c: Conv) => (c.rank ?? 2) === 2 && c.dataFormat === 'channelsLast';
  const finish = (c: Conv, y: tf.Tensor) => c.activation.apply(c.bias ? tf.add(y, c.bias.read()) : y);
  const conv2d = overrideTraining<Conv>(model, 'Conv2D', applies, (c, x) =>
    tf.tidy(() => {
      const [sh, sw] = c.strides as [number, number];
      return finish(c, tf.conv2d(x as tf.Tensor4D, c.kernel!.read() as tf.Tensor4D, [sh, sw], padOf(c), 'NHWC', dilations(c)));
    }),
  );
  const depthwise = overrideTraining<Conv>(model, 'DepthwiseConv2D', applies, (c, x) =>
    tf.tidy(() => {
      const [sh, sw] = c.strides as [number, number];
      return finish(c, tf.depthwiseConv2d(x as tf.Tensor4D, c.depthwiseKernel!.read() as tf.Tensor4D, [sh, sw], padOf(c), 'NHWC', dilations(c)));
    }),
  );
  return conv2d + depthwise;
}
