import type * as tf from '../../core/tf.js';
import { nodeIn } from './privateFields.js';

export { callsIn, nodeIn, type GraphNode } from './privateFields.js';

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
