import type * as tf from '../../core/tf.js';
import type { FastvisionError } from '../../core/errors.js';
import { callsIn, nodeIn, type GraphNode } from '../tfjs/graph.js';

/** One layer of a model and its single call: what the ONNX writers walk. */
export interface LayerCall {
  layer: tf.layers.Layer;
  className: string;
  node: GraphNode;
}

/**
 * The model's layers in order (tfjs keeps it topological), InputLayers left out, each with
 * its one call and one output. A layer called twice or with several outputs is refused
 * with `refuse`'s error: only one call per layer would be followed, the others silently lost.
 */
export function layerCalls(model: tf.LayersModel, refuse: (layer: tf.layers.Layer, why: string) => FastvisionError): LayerCall[] {
  const calls: LayerCall[] = [];
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    if (callsIn(model, layer) > 1) throw refuse(layer, 'it is called more than once in the model (a shared layer)');
    const node = nodeIn(model, layer);
    if (node.outputTensors.length !== 1) throw refuse(layer, `${node.outputTensors.length} outputs`);
    calls.push({ layer, className, node });
  }
  return calls;
}
