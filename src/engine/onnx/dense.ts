import { applyActivation } from './activation.js';
import type { Converter } from './converter.js';
import { toNchw, toNhwc, transpose } from './layout.js';
import type { Value } from './onnxGraph.js';
import { hostWeights } from './weights.js';

/**
 * Dense: Gemm on `[N, in]` (Keras's kernel `[in, out]` is Gemm's B as it is). On a
 * higher rank Keras applies it to the last axis: MatMul + Add, on NHWC for 4-D tensors.
 */
export const dense: Converter = (layer, [x], { graph, host }) => {
  const { useBias, activation } = layer.getConfig() as { useBias: boolean; activation: string };
  const [kernel, bias] = hostWeights(layer, host);
  const w = graph.floats(`${layer.name}_W`, kernel!.shape, kernel!.values);
  const b = useBias ? graph.floats(`${layer.name}_B`, bias!.shape, bias!.values) : undefined;
  let y: Value;
  if (x!.rank === 2) {
    y = { name: graph.node('Gemm', [x!.name, w, ...(b ? [b] : [])], layer.name), rank: 2 };
  } else {
    const lastAxis = x!.rank === 4 ? transpose(graph, x!, toNhwc, `${layer.name}_nhwc`) : x!;
    let out = graph.node('MatMul', [lastAxis.name, w], `${layer.name}_matmul`);
    if (b) out = graph.node('Add', [out, b], `${layer.name}_bias`);
    y = x!.rank === 4 ? transpose(graph, { name: out, rank: 4 }, toNchw, layer.name) : { name: out, rank: x!.rank };
  }
  return applyActivation(graph, layer, y, activation, `${layer.name}_${activation}`);
};
