import type * as tf from '@tensorflow/tfjs';
import { Callback } from './callback.js';

const inference = Symbol('fastvision.bnInference');

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
type Switchable = tf.layers.Layer & { call: CallFn; [inference]?: boolean };

function isBatchNorm(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'BatchNormalization';
}

/** Runs a BatchNorm layer in inference mode (running statistics, no updates) while `on`, even in a training pass. */
function setInference(layer: tf.layers.Layer, on: boolean): void {
  const bn = layer as Switchable;
  if (bn[inference] === undefined) {
    const call = bn.call.bind(layer);
    bn.call = (inputs, kwargs) => call(inputs, bn[inference] ? { ...kwargs, training: false } : kwargs);
  }
  bn[inference] = on;
}

/**
 * fastai's `BnFreeze`: during training, BatchNorm layers whose weights are frozen run
 * in inference mode, so their running statistics stay those of pretraining. With
 * `trainBn: false` and a frozen body this makes the body a fixed function of the
 * image, which is what lets the learner train the head on cached body features.
 *
 * @example
 * ```ts
 * const learn = await visionLearner(dls, resnet34, { trainBn: false, cbs: [new BnFreeze()] });
 * ```
 */
export class BnFreeze extends Callback {
  override beforeTrain(): void {
    const trainable = new Set(this.learn.trainableVariables());
    for (const layer of this.learn.model.layers) {
      if (!isBatchNorm(layer)) continue;
      const frozen = layer.trainableWeights.every((w) => !trainable.has(w.read() as tf.Variable));
      setInference(layer, frozen);
    }
  }

  override afterFit(): void {
    for (const layer of this.learn.model.layers) if ((layer as Switchable)[inference]) setInference(layer, false);
  }
}
