import * as tf from '../../core/tf.js';
import { capabilities } from '../capabilities.js';
import { hostCompute } from './hostCompute.js';
import { overrideTraining } from './layerOverrides.js';
import { type ReluFields } from './privateFields.js';

/**
 * Training-mode ReLU and capped ReLU (ReLU6) as one op each, on the wasm and cpu
 * backends, whose gradient reads the op's *output*: dx = dy where 0 < y < max.
 *
 * tfjs keeps the tensors an op saves for its gradient until the backward pass.
 * tfjs-layers' ReLU saves its input (the BatchNorm output before it), and the next
 * convolution saves the ReLU's output: two full-size activations. Saving the output,
 * which the next layer keeps anyway, frees the BatchNorm output after the forward pass
 * (as PyTorch's in-place ReLU does). The gradient is PyTorch's: 0 at x = 0 and, for
 * ReLU6, at x = 6 (tfjs passes it at exactly 6). ReLU6's gradient also becomes one loop
 * where tfjs ran six full-size kernels.
 */
export function reluFromOutput(x: tf.Tensor, max = Infinity): tf.Tensor {
  const op = tf.customGrad((xIn, save) => {
    const input = xIn as tf.Tensor;
    const [y] = hostCompute([input], [input.shape], ([xv], [yv]) => {
      for (let i = 0; i < xv!.length; i++) {
        const v = xv![i]!;
        yv![i] = v > 0 ? (v < max ? v : max) : 0;
      }
    });
    (save as tf.GradSaveFunc)([y!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, [ys]: tf.Tensor[]) =>
        hostCompute([dy, ys!], [dy.shape], ([g, yv], [dx]) => {
          for (let i = 0; i < g!.length; i++) {
            const v = yv![i]!;
            dx![i] = v > 0 && v < max ? g![i]! : 0;
          }
        })[0]!,
    };
  });
  return op(x);
}

/** Makes the model's ReLU layers (plain or capped) train through {@link reluFromOutput} (on wasm and cpu). Idempotent; returns how many it switched. */
export function useReluFromOutput(model: tf.LayersModel): number {
  type Relu = tf.layers.Layer & ReluFields;
  return overrideTraining<Relu>(
    model,
    'ReLU',
    () => true,
    (relu, x) => (capabilities().hostMemory ? reluFromOutput(x, relu.maxValue ?? Infinity) : undefined),
  );
}
