import type * as tf from '../../core/tf.js';
import type { OnnxGraph, Value } from './onnxGraph.js';
import type { FoldPlan } from './foldPlan.js';

/** What a layer's converter writes into, and what was folded into which conv. */
export interface ExportContext {
  graph: OnnxGraph;
  folds: FoldPlan;
}

/** Writes one layer's nodes reading `inputs`; returns the layer's output. */
export type Converter = (layer: tf.layers.Layer, inputs: Value[], ctx: ExportContext) => Value;
