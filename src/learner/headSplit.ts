import * as tf from '../core/tf.js';
import { nodeIn } from '../engine/tfjs/graph.js';

/** A model cut where its head begins: `head.apply(body.predict(x))` is `model.apply(x)`. */
export interface HeadSplit {
  /** The model's inputs up to the tensor the head reads. */
  body: tf.LayersModel;
  /** The head's layers (the same layer objects, so the same weights) on an input of their own. */
  head: tf.LayersModel;
}

/**
 * Splits `model` where `headLayers` begin, or says why it cannot: the head must read
 * exactly one tensor of the rest of the model and produce the model's only output.
 * The head is rebuilt by applying its own layers again to a new input, which shares
 * every weight; the original model and its saved form are unchanged.
 */
export function splitAtHead(model: tf.LayersModel, headLayers: readonly tf.layers.Layer[]): HeadSplit | string {
  if (model.outputs.length !== 1) return `the model has ${model.outputs.length} outputs`;
  const inHead = new Set(headLayers);
  const ordered = model.layers.filter((l) => inHead.has(l));
  if (ordered.length !== inHead.size) return 'the last layer group has layers that are not in the model';
  const nodeOf = (l: tf.layers.Layer) => nodeIn(model, l);
  const cuts = new Set<tf.SymbolicTensor>();
  for (const layer of ordered) {
    for (const t of nodeOf(layer).inputTensors) if (!inHead.has(t.sourceLayer as tf.layers.Layer)) cuts.add(t);
  }
  if (cuts.size !== 1) return `the head reads ${cuts.size} tensors of the body, not one`;
  // A layer that is random in training (dropout, noise) before the head would run
  // differently in the body's inference pass than in a training step.
  const random = model.layers.find((l) => !inHead.has(l) && /Dropout|Noise/.test(l.getClassName()));
  if (random) return `layer '${random.name}' (${random.getClassName()}) before the last layer group is random in training`;
  const [cut] = [...cuts] as [tf.SymbolicTensor];
  const input = tf.input({ shape: cut.shape.slice(1) as number[], name: `${model.name}_features` });
  const mapped = new Map<number, tf.SymbolicTensor>([[cut.id, input]]);
  for (const layer of ordered) {
    const node = nodeOf(layer);
    const args = node.inputTensors.map((t) => mapped.get(t.id)!);
    const out = layer.apply(args.length === 1 ? args[0]! : args) as tf.SymbolicTensor | tf.SymbolicTensor[];
    (Array.isArray(out) ? out : [out]).forEach((o, k) => mapped.set(node.outputTensors[k]!.id, o));
  }
  const output = mapped.get(model.outputs[0]!.id);
  if (!output) return "the model's output is not computed by its last layer group";
  return {
    body: tf.model({ inputs: model.inputs, outputs: cut, name: `${model.name}_body` }),
    head: tf.model({ inputs: input, outputs: output, name: `${model.name}_head` }),
  };
}
