import { intAttr, intsAttr, stringAttr } from '../proto.js';
import { requireChannelsLast, unsupportedForTraining, type LayerWriter } from './layerStep.js';
import { staticPads } from './conv.js';

/**
 * MaxPooling2D: forward MaxPool with its Indices output (flat offsets into the whole
 * NCHW input), backward a ScatterElements with reduction 'add' (opset 16) of dY onto
 * those offsets, so overlapping windows add up as they should. 'same' pads are
 * ignored by the max, as ONNX's −∞ padding does.
 */
export const maxPoolTrain: LayerWriter = (layer, [x], { graph }) => {
  requireChannelsLast(layer);
  const { poolSize, strides, padding } = layer.getConfig() as { poolSize: number[]; strides: number[]; padding: 'valid' | 'same' };
  const [n, c, h, w] = x!.shape as [number, number, number, number];
  const pads = staticPads(padding, [h, w], poolSize, strides);
  const ho = Math.floor((h + pads[0]! + pads[2]! - poolSize[0]!) / strides[0]!) + 1;
  const wo = Math.floor((w + pads[1]! + pads[3]! - poolSize[1]!) / strides[1]!) + 1;
  const attrs = [intsAttr('kernel_shape', poolSize), intsAttr('strides', strides), intsAttr('pads', pads)];
  const [values, indices] = graph.multi('MaxPool', [x!.name], layer.name, 2, attrs) as [string, string];
  const y = { name: values, shape: [n, c, ho, wo] };
  return {
    output: y,
    backward(dy) {
      const name = `${layer.name}_grad`;
      const total = n * c * h * w;
      const outs = n * c * ho * wo;
      const flatIdx = graph.reshape({ name: indices, shape: y.shape }, [outs], `${name}_idx`);
      const flatDy = graph.reshape(dy, [outs], `${name}_dy`);
      const zeros = graph.zeros([total], `${name}_zeros`);
      const scattered = graph.op('ScatterElements', [zeros, flatIdx, flatDy], [total], name, [intAttr('axis', 0), stringAttr('reduction', 'add')]);
      return { dx: [graph.reshape(scattered, x!.shape, `${name}_dx`)] };
    },
  };
};

/** GlobalAveragePooling2D → `[N, C]`; the gradient is dY/(H·W) everywhere. */
export const globalAvgPoolTrain: LayerWriter = (layer, [x], { graph }) => {
  requireChannelsLast(layer);
  if (x!.shape.length !== 4) throw unsupportedForTraining(layer, `a rank-${x!.shape.length} input`);
  const [n, c, h, w] = x!.shape as [number, number, number, number];
  const y = graph.reduce('ReduceMean', x!, [2, 3], false, layer.name);
  return {
    output: y,
    backward(dy) {
      const name = `${layer.name}_grad`;
      const scaled = graph.bin('Mul', graph.reshape(dy, [n, c, 1, 1], `${name}_r`), graph.scalar(1 / (h * w)), `${name}_scaled`);
      return { dx: [graph.expand(scaled, [n, c, h, w], `${name}_dx`)] };
    },
  };
};

/**
 * GlobalMaxPooling2D → `[N, C]`. The gradient goes to every position equal to the
 * max, as tfjs's `max` gradient does (ties each get the whole gradient).
 */
export const globalMaxPoolTrain: LayerWriter = (layer, [x], { graph }) => {
  requireChannelsLast(layer);
  if (x!.shape.length !== 4) throw unsupportedForTraining(layer, `a rank-${x!.shape.length} input`);
  const [n, c] = x!.shape as [number, number];
  const kept = graph.reduce('ReduceMax', x!, [2, 3], true, `${layer.name}_keep`);
  const y = graph.reshape(kept, [n, c], layer.name);
  return {
    output: y,
    backward(dy) {
      const name = `${layer.name}_grad`;
      const isMax = graph.op('Equal', [x!, kept], x!.shape, `${name}_ismax`);
      return { dx: [graph.where(isMax, graph.reshape(dy, [n, c, 1, 1], `${name}_r`), graph.scalar(0), `${name}_dx`)] };
    },
  };
};
