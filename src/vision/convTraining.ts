import * as tf from '@tensorflow/tfjs';
import { patchTraining } from './trainingPatch.js';

/**
 * Training-mode Conv2D through `tf.conv2d` instead of tfjs-layers' `tf.fused.conv2d`.
 *
 * The fused op's gradient is a `customGrad` that computes the input gradient and the
 * filter gradient together, whether or not anything needs the former. The first
 * convolution's input is the image batch, so every step paid for a gradient with
 * respect to the pixels (on wasm, ~10% of a ResNet-18 step). `tf.conv2d`'s gradient
 * is computed per input, only for inputs on the path to a trained variable.
 */

interface ConvFields {
  rank: number;
  dataFormat: string;
  strides: number[];
  padding: 'valid' | 'same';
  dilationRate: number[];
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { apply(x: tf.Tensor): tf.Tensor };
}

/** Makes the model's 2-D channels-last Conv2D layers train through `tf.conv2d`. Idempotent; returns how many it switched. */
export function useLeanConvGradients(model: tf.LayersModel): number {
  return patchTraining<tf.layers.Layer & ConvFields>(
    model,
    'Conv2D',
    (conv) => conv.rank === 2 && conv.dataFormat === 'channelsLast',
    (conv, x) =>
      tf.tidy(() => {
        const [sh, sw] = conv.strides as [number, number];
        const [dh, dw] = conv.dilationRate as [number, number];
        let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, conv.kernel.read() as tf.Tensor4D, [sh, sw], conv.padding, 'NHWC', [dh, dw]);
        if (conv.bias) y = tf.add(y, conv.bias.read());
        return conv.activation.apply(y);
      }),
  );
}
