import { onnxAxis } from '../layout.js';
import type { LayerWriter } from './layerStep.js';

/** Add of any number of inputs; each input's gradient is dY itself. */
export const addTrain: LayerWriter = (layer, inputs, { graph }) => {
  let sum = inputs[0]!;
  for (let k = 1; k < inputs.length; k++) sum = graph.bin('Add', sum, inputs[k]!, k === inputs.length - 1 ? layer.name : `${layer.name}_${k}`);
  return { output: sum, backward: (dy, need) => ({ dx: need.map((nd) => (nd ? dy : undefined)) }) };
};

/** Concatenate on a Keras axis (the channels by default: axis 1 of NCHW); the gradient is dY sliced back. */
export const concatenateTrain: LayerWriter = (layer, inputs, { graph }) => {
  const axis = onnxAxis(Number(layer.getConfig().axis ?? -1), inputs[0]!.shape.length);
  const y = graph.concat(inputs, axis, layer.name);
  return {
    output: y,
    backward(dy, need) {
      let start = 0;
      const dx = inputs.map((x, k) => {
        const end = start + x.shape[axis]!;
        const part = need[k] ? graph.slice(dy, [axis], [start], [end], [1], `${layer.name}_grad${k}`) : undefined;
        start = end;
        return part;
      });
      return { dx };
    },
  };
};
