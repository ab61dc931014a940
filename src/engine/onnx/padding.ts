import type { Converter } from './converter.js';
import { unsupportedLayer } from './unsupported.js';

/**
 * A ZeroPadding2D not folded into a conv (see foldPlan): Pad with zeros. Before a
 * MaxPool this matters: ONNX's own pooling pads would be −∞, Keras's are 0.
 */
export const zeroPadding: Converter = (layer, [x], { graph }) => {
  const { padding, dataFormat } = layer.getConfig() as { padding: [[number, number], [number, number]]; dataFormat: string };
  if (dataFormat !== 'channelsLast') throw unsupportedLayer(layer, `dataFormat ${dataFormat} (only channelsLast is written)`);
  const [[top, bottom], [left, right]] = padding;
  // ONNX pads: every axis's start, then every axis's end, in NCHW order.
  const pads = graph.int64s(`${layer.name}_pads`, [0, 0, top, left, 0, 0, bottom, right]);
  const zero = graph.floats(`${layer.name}_value`, [], [0]);
  return { name: graph.node('Pad', [x!.name, pads, zero], layer.name), rank: 4 };
};
