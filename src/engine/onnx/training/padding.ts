import { requireChannelsLast, type LayerWriter } from './layerStep.js';

/**
 * A ZeroPadding2D the compiler could not fold into the conv after it (e.g. before a
 * MaxPool, where it must pad with zeros, not −∞): Pad forward, the gradient sliced
 * back to the unpadded region.
 */
export const zeroPaddingTrain: LayerWriter = (layer, [x], { graph }) => {
  requireChannelsLast(layer);
  const [[top, bottom], [left, right]] = layer.getConfig().padding as [[number, number], [number, number]];
  const y = graph.pad(x!, [0, 0, top, left, 0, 0, bottom, right], layer.name);
  const [, , h, w] = x!.shape as [number, number, number, number];
  return {
    output: y,
    backward: (dy) => ({ dx: [graph.slice(dy, [2, 3], [top, left], [top + h, left + w], [1, 1], `${layer.name}_grad`)] }),
  };
};
