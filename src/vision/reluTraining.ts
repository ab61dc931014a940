import * as tf from '@tensorflow/tfjs';
import { hostBackend, hostCompute } from '../core/hostCompute.js';
import { patchTraining } from './trainingPatch.js';

/**
 * Training-mode capped ReLU (ReLU6) as one op with a fused gradient, on the wasm and
 * cpu backends. tfjs-layers computes `clipByValue(relu(x), 0, max)`, whose gradient is
 * six full-size kernels (Step, Multiply, GreaterEqual, LessEqual, LogicalAnd, Select);
 * here it is one loop: dx = dy where 0 < x ≤ max, else 0 — the same values.
 */
export function cappedRelu(x: tf.Tensor, max: number): tf.Tensor {
  const op = tf.customGrad((xIn, save) => {
    const input = xIn as tf.Tensor;
    (save as tf.GradSaveFunc)([input]);
    const [y] = hostCompute([input], [input.shape], ([xv], [yv]) => {
      for (let i = 0; i < xv!.length; i++) {
        const v = xv![i]!;
        yv![i] = v > 0 ? (v < max ? v : max) : 0;
      }
    });
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, [xs]: tf.Tensor[]) =>
        hostCompute([dy, xs!], [dy.shape], ([g, xv], [dx]) => {
          for (let i = 0; i < g!.length; i++) {
            const v = xv![i]!;
            dx![i] = v > 0 && v <= max ? g![i]! : 0;
          }
        })[0]!,
    };
  });
  return op(x);
}

/** Makes the model's capped ReLU layers train through {@link cappedRelu} (on wasm and cpu). Idempotent; returns how many it switched. */
export function useFusedCappedRelu(model: tf.LayersModel): number {
  type Relu = tf.layers.Layer & { maxValue: number | null };
  return patchTraining<Relu>(
    model,
    'ReLU',
    (relu) => relu.maxValue != null,
    (relu, x) => (hostBackend() ? cappedRelu(x, relu.maxValue!) : undefined),
  );
}
