import type * as tf from '../../core/tf.js';
import type { OnnxGraph, Value } from './onnxGraph.js';
import type { FoldPlan } from './foldPlan.js';
import type { HostValues } from './weights.js';

/** What a layer's converter writes into, what was folded into which conv, and the weights' values. */
export interface ExportContext {
  graph: OnnxGraph;
  folds: FoldPlan;
  host: HostValues;
}

/** Writes one layer's nodes reading `inputs`; returns the layer's output. */
export type Converter = (layer: tf.layers.Layer, inputs: Value[], ctx: ExportContext) => Value;
