import type * as tf from '@tensorflow/tfjs';

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
const patched = Symbol('fastvision.trainingPatch');

/**
 * Gives every layer of `className` in `model` that `applies` a faster training pass:
 * in a call with `training: true`, `train` runs instead of the layer's own `call`
 * (unless it returns undefined). Inference, weights and the saved model stay the
 * layer's. Each layer is patched once; returns how many this call patched.
 */
export function patchTraining<L extends tf.layers.Layer>(
  model: tf.LayersModel,
  className: string,
  applies: (layer: L) => boolean,
  train: (layer: L, x: tf.Tensor) => tf.Tensor | undefined,
): number {
  let n = 0;
  for (const layer of model.layers) {
    const l = layer as L & { call: CallFn; [patched]?: Set<string> };
    if (layer.getClassName() !== className || l[patched]?.has(className) || !applies(l)) continue;
    const stock = l.call.bind(layer);
    (l[patched] ??= new Set()).add(className);
    l.call = (inputs, kwargs) => (kwargs['training'] && train(l, Array.isArray(inputs) ? inputs[0]! : inputs)) || stock(inputs, kwargs);
    n++;
  }
  return n;
}
