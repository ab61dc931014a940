import type * as tf from '../../../core/tf.js';
import { FastvisionError } from '../../../core/errors.js';
import type { TrainGraph, TVal } from './trainGraph.js';

/**
 * How one layer is written into the training step. Its forward writer runs in model
 * order and returns the output with a `backward` closure over whatever forward values
 * the gradient needs (the closure is the "tape"); the compiler calls the closures in
 * reverse order with the output's gradient.
 */
export interface LayerStep {
  output: TVal;
  /**
   * Writes the gradient. `need[i]` says whether input i needs one (something trainable
   * lies below it); the result has a gradient for each such input, and the gradients
   * of the layer's trainable weights by role (`kernel`, `bias`, `gamma`, `beta`).
   */
  backward(dy: TVal, need: boolean[]): { dx: (TVal | undefined)[]; dw?: Record<string, TVal> };
}

/** What a layer writer gets besides its inputs. */
export interface LayerContext {
  graph: TrainGraph;
  /** Whether this layer's weights train. */
  trainable: boolean;
  /** A BatchNorm that normalises with its running statistics and leaves them alone (fastai's BnFreeze on a frozen BatchNorm). */
  inferenceMode: boolean;
  /** The graph input holding the layer's weight `role` (e.g. `kernel`), or undefined when the layer has none. */
  weight(role: string): TVal | undefined;
  /** Records the BatchNorm running statistic `role`'s new value (an output of the step). */
  setRunningStat(role: 'moving_mean' | 'moving_variance', value: TVal): void;
  /** Explicit zero padding folded into this conv from a ZeroPadding2D before it, [top, left, bottom, right]. */
  foldedPads?: number[];
  /** The graph input with this Dropout layer's mask. */
  dropoutMask(shape: number[]): TVal;
}

export type LayerWriter = (layer: tf.layers.Layer, inputs: TVal[], ctx: LayerContext) => LayerStep;

/** The error for a layer the training compiler cannot write. */
export function unsupportedForTraining(layer: tf.layers.Layer, why?: string): FastvisionError {
  return new FastvisionError('BAD_OPTION', `fastvision: compileTrainStep cannot write layer '${layer.name}' (${layer.getClassName()}): ${why ?? 'its class is not supported'}`);
}

/** tfjs's `dataFormat` must be channels-last (every fastvision model's). */
export function requireChannelsLast(layer: tf.layers.Layer): void {
  const { dataFormat } = layer.getConfig() as { dataFormat?: string };
  if (dataFormat != null && dataFormat !== 'channelsLast') throw unsupportedForTraining(layer, `dataFormat ${dataFormat}`);
}

/** The activation of a Conv2D or Dense: only `linear` is written (fastvision's archs put activations in their own layers). */
export function requireLinear(layer: tf.layers.Layer): void {
  const { activation } = layer.getConfig() as { activation?: string };
  if (activation != null && activation !== 'linear') throw unsupportedForTraining(layer, `activation '${activation}' (only linear: use a separate ReLU layer)`);
}
