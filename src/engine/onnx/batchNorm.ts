import type * as tf from '../../core/tf.js';
import type { Converter } from './converter.js';
import type { OnnxGraph, Value } from './onnxGraph.js';
import { unsupportedLayer } from './unsupported.js';
import { hostWeights, type HostValues } from './weights.js';

/**
 * BatchNormalization at inference is a per-channel affine map,
 * y = x · γ/√(var + ε) + (β − mean · γ/√(var + ε)), with the layer's own ε. Computed in
 * float64 so the only rounding is the final float32 store, as close to tfjs's float32
 * (x − mean)·rsqrt(var + ε)·γ + β as float32 allows.
 */
export interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}

interface BatchNormConfig {
  axis: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
}

export function batchNormAffine(layer: tf.layers.Layer, host: HostValues): ChannelAffine {
  const config = layer.getConfig() as unknown as BatchNormConfig;
  // getWeights order: gamma (if scale), beta (if center), moving mean, moving variance.
  const ws = hostWeights(layer, host).map((w) => w.values);
  const gamma = config.scale ? ws.shift() : undefined;
  const beta = config.center ? ws.shift() : undefined;
  const [mean, variance] = ws as [Float32Array, Float32Array];
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + config.epsilon);
    shift[c] = (beta ? beta[c]! : 0) - mean[c]! * scale[c]!;
  }
  return { scale, shift };
}

/** Whether a BatchNormalization normalises the channels (the last axis), the only kind written. */
export function normalisesChannels(layer: tf.layers.Layer, rank: number): boolean {
  const { axis } = layer.getConfig() as unknown as BatchNormConfig;
  return axis === -1 || axis === rank - 1;
}

/** A BatchNormalization not folded into a conv: Mul and Add, broadcast over NCHW's spatial axes or a 2-D `[N, C]`. */
export const batchNormalization: Converter = (layer, [x], { graph, host }) => {
  if (!normalisesChannels(layer, x!.rank)) throw unsupportedLayer(layer, `axis ${String(layer.getConfig().axis)} (only the channel axis, -1, is written)`);
  return affine(graph, x!, batchNormAffine(layer, host), layer.name);
};

function affine(graph: OnnxGraph, x: Value, { scale, shift }: ChannelAffine, name: string): Value {
  // Channels are axis 1 of NCHW: [C, 1, 1] broadcasts over H and W; 2-D and 3-D have them last.
  const dims = x.rank === 4 ? [scale.length, 1, 1] : [scale.length];
  const scaled = graph.node('Mul', [x.name, graph.floats(`${name}_scale`, dims, scale)], `${name}_mul`);
  return { name: graph.node('Add', [scaled, graph.floats(`${name}_shift`, dims, shift)], name), rank: x.rank };
}
