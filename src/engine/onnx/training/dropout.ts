import type { LayerWriter } from './layerStep.js';

/**
 * Dropout. With rate 0 it is the identity (no input, no node). Otherwise the caller
 * feeds the mask — the kept units already scaled by 1/(1 − rate) — as an input, so
 * the step stays a pure function of its inputs (reproducible, and the same mask
 * could be fed to tfjs to compare). y = x·mask, dx = dY·mask.
 */
export const dropoutTrain: LayerWriter = (layer, [x], ctx) => {
  const rate = Number(layer.getConfig().rate ?? 0);
  if (rate === 0) return { output: x!, backward: (dy) => ({ dx: [dy] }) };
  const mask = ctx.dropoutMask(x!.shape);
  const y = ctx.graph.bin('Mul', x!, mask, layer.name);
  return { output: y, backward: (dy) => ({ dx: [ctx.graph.bin('Mul', dy, mask, `${layer.name}_grad`)] }) };
};
