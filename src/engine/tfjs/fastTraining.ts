import type * as tf from '../../core/tf.js';
import { useFastBatchNorm } from './batchNormTraining.js';
import { useLeanConvGradients } from './convTraining.js';
import { useReluFromOutput } from './reluTraining.js';

/**
 * What a Learner does to its model before training: BatchNorm with a hand-written
 * gradient, convolutions whose gradients are computed only where needed and that pad
 * for themselves, and ReLUs whose gradient reads their output. All change only
 * training-mode passes of the same layers: weights, inference and the saved model
 * stay as they were.
 */
export function useFastTraining(model: tf.LayersModel): void {
  useFastBatchNorm(model);
  useLeanConvGradients(model);
  useReluFromOutput(model);
}
