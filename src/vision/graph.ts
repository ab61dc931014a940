import type * as tf from '@tensorflow/tfjs';

/** A layer's call inside a model: the symbolic tensors it read and wrote. */
export interface GraphNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

interface LayerInternals {
  inboundNodes: GraphNode[];
}

/**
 * The node through which `model` calls `layer`. A layer shared by several models
 * (a body re-applied to a new input, a head rebuilt on features) has one node per
 * call; tfjs-layers records which belong to a model as `<name>_ib-<index>`.
 */
export function nodeIn(model: tf.LayersModel, layer: tf.layers.Layer): GraphNode {
  const nodes = (layer as unknown as LayerInternals).inboundNodes;
  const own = (model as unknown as { containerNodes: Set<string> }).containerNodes;
  const k = nodes.findIndex((_, i) => own.has(`${layer.name}_ib-${i}`));
  if (k < 0) throw new Error(`fastvision: layer '${layer.name}' is not called by model '${model.name}'`);
  return nodes[k]!;
}

/**
 * For `model`'s graph: the one layer that reads a tensor, when no other layer reads it
 * and it is not one of the model's outputs — the condition for merging two layers.
 */
export function soleReader(model: tf.LayersModel): (t: tf.SymbolicTensor) => tf.layers.Layer | undefined {
  const readers = new Map<number, tf.layers.Layer[]>();
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    for (const t of nodeIn(model, layer).inputTensors) readers.set(t.id, [...(readers.get(t.id) ?? []), layer]);
  }
  const outputs = new Set(model.outputs.map((t) => t.id));
  return (t) => {
    const r = readers.get(t.id) ?? [];
    return r.length === 1 && !outputs.has(t.id) ? r[0] : undefined;
  };
}
