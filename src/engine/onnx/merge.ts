import type { Converter } from './converter.js';
import { onnxAxis } from './layout.js';
import { intAttr } from './proto.js';

/** Add of any number of tensors: ONNX's Add takes two. */
export const add: Converter = (layer, inputs, { graph }) => {
  let sum = inputs[0]!.name;
  for (let k = 1; k < inputs.length; k++) sum = graph.node('Add', [sum, inputs[k]!.name], k === inputs.length - 1 ? layer.name : `${layer.name}_${k}`);
  return { name: sum, rank: inputs[0]!.rank };
};

/** Concatenate on a Keras axis (default −1, the channels: axis 1 of NCHW). */
export const concatenate: Converter = (layer, inputs, { graph }) => {
  const rank = inputs[0]!.rank;
  const axis = onnxAxis(Number(layer.getConfig().axis ?? -1), rank);
  return { name: graph.node('Concat', inputs.map((v) => v.name), layer.name, [intAttr('axis', axis)]), rank };
};
