import type * as tf from '../../core/tf.js';
import { callOf, type LayerCall } from './privateFields.js';

/**
 * The one place where fastvision changes what a layer's `call` does. Each layer has
 * at most one override per stage, and the stages run in a fixed order whatever order
 * they were set in:
 *
 * 1. `mode` may rewrite the call's arguments (`BnFreeze` turns a BatchNorm's training
 *    pass into an inference pass);
 * 2. `training` may replace the training pass with a faster one (the engine's
 *    speed-ups), returning `undefined` to let the layer's own `call` run.
 *
 * Inference, weights and the saved model stay the layer's own.
 */
export type OverrideStage = 'mode' | 'training';

/** Rewrites a call's keyword arguments before anything else sees them. */
export type ModeOverride = (kwargs: Record<string, unknown>) => Record<string, unknown>;
/** A training pass for the layer's (first) input, or `undefined` for the layer's own. */
export type TrainingOverride = (x: tf.Tensor) => tf.Tensor | undefined;

interface Overrides {
  stock: LayerCall;
  mode?: ModeOverride;
  training?: TrainingOverride;
}

const registry = new WeakMap<tf.layers.Layer, Overrides>();

function install(layer: tf.layers.Layer): Overrides {
  let entry = registry.get(layer);
  if (entry) return entry;
  const l = callOf(layer);
  const own: Overrides = { stock: l.call.bind(layer) };
  l.call = (inputs, kwargs) => {
    const args = own.mode ? own.mode(kwargs) : kwargs;
    const fast = args['training'] && own.training?.(Array.isArray(inputs) ? inputs[0]! : inputs);
    return fast || own.stock(inputs, args);
  };
  registry.set(layer, own);
  entry = own;
  return entry;
}

/**
 * Sets (or, with `undefined`, clears) `layer`'s override for `stage`.
 *
 * @example
 * ```ts
 * setLayerOverride(bn, 'mode', (kwargs) => ({ ...kwargs, training: false }));   // BnFreeze
 * ```
 */
export function setLayerOverride(layer: tf.layers.Layer, stage: 'mode', fn: ModeOverride | undefined): void;
export function setLayerOverride(layer: tf.layers.Layer, stage: 'training', fn: TrainingOverride | undefined): void;
export function setLayerOverride(layer: tf.layers.Layer, stage: OverrideStage, fn: ModeOverride | TrainingOverride | undefined): void {
  if (fn === undefined && !registry.has(layer)) return;
  const entry = install(layer);
  if (stage === 'mode') entry.mode = fn as ModeOverride | undefined;
  else entry.training = fn as TrainingOverride | undefined;
}

/** Whether `layer` has an override for `stage`. */
export function hasLayerOverride(layer: tf.layers.Layer, stage: OverrideStage): boolean {
  return registry.get(layer)?.[stage] !== undefined;
}

/**
 * Gives every layer of `className` in `model` that `applies` a training override
 * (unless it has one). Returns how many this call set.
 */
export function overrideTraining<L extends tf.layers.Layer>(
  model: tf.LayersModel,
  className: string,
  applies: (layer: L) => boolean,
  train: (layer: L, x: tf.Tensor) => tf.Tensor | undefined,
): number {
  let n = 0;
  for (const layer of model.layers) {
    const l = layer as L;
    if (layer.getClassName() !== className || hasLayerOverride(layer, 'training') || !applies(l)) continue;
    setLayerOverride(layer, 'training', (x) => train(l, x));
    n++;
  }
  return n;
}
