import { requireLinear, unsupportedForTraining, type LayerWriter } from './layerStep.js';
import type { TVal } from './trainGraph.js';

/**
 * Dense on `[N, in]`: y = x·W (+ b). dW = xᵀ·dY, db = Σ dY, dx = dY·Wᵀ, each one Gemm
 * with a transpose flag rather than a Transpose node.
 */
export const denseTrain: LayerWriter = (layer, [x], ctx) => {
  const { graph } = ctx;
  requireLinear(layer);
  if (x!.shape.length !== 2) throw unsupportedForTraining(layer, `a rank-${x!.shape.length} input (only [batch, features])`);
  const w = ctx.weight('kernel')!;
  const b = (layer.getConfig() as { useBias: boolean }).useBias ? ctx.weight('bias') : undefined;
  const xw = graph.gemm(x!, w, false, false, b ? `${layer.name}_matmul` : layer.name);
  const y = b ? graph.bin('Add', xw, b, layer.name) : xw;
  return {
    output: y,
    backward(dy, [needX]) {
      const name = `${layer.name}_grad`;
      const dw: Record<string, TVal> = {};
      if (ctx.trainable) {
        dw.kernel = graph.gemm(x!, dy, true, false, `${name}_kernel`);
        if (b) dw.bias = graph.reduceSum(dy, [0], false, `${name}_bias`);
      }
      return { dx: [needX ? graph.gemm(dy, w, false, true, `${name}_dx`) : undefined], dw };
    },
  };
};
