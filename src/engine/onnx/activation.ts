import type * as tf from '../../core/tf.js';
import type { Converter } from './converter.js';
import type { OnnxGraph, Value } from './onnxGraph.js';
import { floatAttr, intAttr } from './proto.js';
import { unsupportedLayer } from './unsupported.js';

/**
 * tfjs activations (as named in a layer's config) as ONNX nodes. Each writes one
 * value; `linear` writes nothing. Constants match tfjs's: selu's α and λ, hard
 * sigmoid's 0.2x + 0.5.
 */
const writers: Record<string, (graph: OnnxGraph, x: Value, name: string) => string> = {
  linear: (_graph, x) => x.name,
  relu: (graph, x, name) => graph.node('Relu', [x.name], name),
  relu6: (graph, x, name) => clip(graph, x, 6, name),
  sigmoid: (graph, x, name) => graph.node('Sigmoid', [x.name], name),
  tanh: (graph, x, name) => graph.node('Tanh', [x.name], name),
  // Keras's softmax is over the last axis: the channels, which NCHW keeps at 1.
  softmax: (graph, x, name) => graph.node('Softmax', [x.name], name, [intAttr('axis', x.rank === 4 ? 1 : -1)]),
  elu: (graph, x, name) => graph.node('Elu', [x.name], name, [floatAttr('alpha', 1)]),
  selu: (graph, x, name) => graph.node('Selu', [x.name], name, [floatAttr('alpha', 1.6732632423543772), floatAttr('gamma', 1.0507009873554805)]),
  softplus: (graph, x, name) => graph.node('Softplus', [x.name], name),
  softsign: (graph, x, name) => graph.node('Softsign', [x.name], name),
  hardSigmoid: (graph, x, name) => graph.node('HardSigmoid', [x.name], name, [floatAttr('alpha', 0.2), floatAttr('beta', 0.5)]),
  swish: (graph, x, name) => graph.node('Mul', [x.name, graph.node('Sigmoid', [x.name], `${name}_sigmoid`)], name),
};

export const supportedActivations = Object.keys(writers);

/** `x` through the tfjs activation `activation` (a name from a layer's config), or an error naming `layer`. */
export function applyActivation(graph: OnnxGraph, layer: tf.layers.Layer, x: Value, activation: string, name: string): Value {
  const write = writers[activation];
  if (!write) throw unsupportedLayer(layer, `activation '${activation}' (supported: ${supportedActivations.join(', ')})`);
  return { name: write(graph, x, name), rank: x.rank };
}

/** Clip takes its bounds as inputs since opset 11. */
function clip(graph: OnnxGraph, x: Value, max: number, name: string): string {
  const low = graph.floats(`${name}_min`, [], [0]);
  const high = graph.floats(`${name}_max`, [], [max]);
  return graph.node('Clip', [x.name, low, high], name);
}

export const activation: Converter = (layer, [x], { graph }) => applyActivation(graph, layer, x!, String(layer.getConfig().activation), layer.name);

/** ReLU, or ReLU capped at `maxValue` (ReLU6 when 6). */
export const relu: Converter = (layer, [x], { graph }) => {
  const maxValue = layer.getConfig().maxValue as number | null | undefined;
  if (maxValue == null) return applyActivation(graph, layer, x!, 'relu', layer.name);
  return { name: clip(graph, x!, maxValue, layer.name), rank: x!.rank };
};
