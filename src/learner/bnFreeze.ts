import type * as tf from '../core/tf.js';
import { setLayerOverride } from '../engine/tfjs/layerOverrides.js';
import { Callback } from './callback.js';

function isBatchNorm(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'BatchNormalization';
}

/** Runs a BatchNorm layer in inference mode (running statistics, no updates) while `on`, even in a training pass. */
function setInference(layer: tf.layers.Layer, on: boolean): void {
  setLayerOverride(layer, 'mode', on ? (kwargs) => ({ ...kwargs, training: false }) : undefined);
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
    for (const layer of this.learn.model.layers) if (isBatchNorm(layer)) setInference(layer, false);
  }
}
