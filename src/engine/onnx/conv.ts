import type * as tf from '../../core/tf.js';
import { applyActivation } from './activation.js';
import { batchNormAffine } from './batchNorm.js';
import type { Converter } from './converter.js';
import { intAttr, intsAttr, stringAttr, type AttributeProto } from './proto.js';
import { unsupportedLayer } from './unsupported.js';
import { hostWeights, onnxConvKernel, type HostValues } from './weights.js';

interface ConvConfig {
  strides: number[];
  padding: 'valid' | 'same' | 'causal';
  dilationRate: number[] | number;
  dataFormat: string;
  activation: string;
  useBias: boolean;
}

/**
 * Conv2D and DepthwiseConv2D as ONNX Conv (depthwise: `group` = input channels, the
 * depth multiplier's outputs per group), with a following BatchNorm folded into the
 * weights and bias and a preceding ZeroPadding2D folded into `pads` (see foldPlan).
 * TF's 'same' puts the odd pixel of padding at the bottom and right, as ONNX's
 * SAME_UPPER does. With stride 1 the padding does not depend on the image size, so it
 * is written out: ONNX Runtime refuses SAME_UPPER on a dilated conv, and explicit pads
 * can take a folded ZeroPadding2D too. With a larger stride it depends on the
 * (symbolic) size, and tfjs allows no dilation there.
 */
export const conv: Converter = (layer, [x], { graph, folds, host }) => {
  const config = layer.getConfig() as unknown as ConvConfig;
  if (config.dataFormat !== 'channelsLast') throw unsupportedLayer(layer, `dataFormat ${config.dataFormat} (only channelsLast is written)`);
  if (config.padding === 'causal') throw unsupportedLayer(layer, "padding 'causal'");
  const bn = folds.batchNorm.get(layer);
  const { weight, bias, groups } = foldedWeights(layer, config.useBias, bn, host);
  const name = bn ? `${layer.name}_${bn.name}` : layer.name;
  const inputs = [x!.name, graph.floats(`${layer.name}_W`, weight.dims, weight.values)];
  if (bias) inputs.push(graph.floats(`${layer.name}_B`, [bias.length], bias));
  const kernel = weight.dims.slice(2);
  const dilation = dilations(config.dilationRate);
  const attributes = [
    intsAttr('kernel_shape', kernel),
    intsAttr('strides', config.strides),
    intsAttr('dilations', dilation),
    ...padding(config, kernel, dilation, folds.pads.get(layer)),
    ...(groups > 1 ? [intAttr('group', groups)] : []),
  ];
  const y = { name: graph.node('Conv', inputs, name, attributes), rank: 4 };
  return applyActivation(graph, layer, y, config.activation, `${name}_${config.activation}`);
};

/**
 * The Conv's weight, bias and group count, with the BatchNorm `bn` folded in. ONNX's
 * bias is optional: none when the layer has none and absorbed no BatchNorm.
 */
function foldedWeights(layer: tf.layers.Layer, useBias: boolean, bn: tf.layers.Layer | undefined, host: HostValues) {
  const depthwise = layer.getClassName() === 'DepthwiseConv2D';
  const [kernel, bias] = hostWeights(layer, host);
  const weight = onnxConvKernel(kernel!, depthwise);
  const groups = depthwise ? kernel!.shape[2]! : 1;
  if (!useBias && !bn) return { weight, bias: undefined, groups };
  const b = new Float64Array(weight.dims[0]!);
  if (useBias) b.set(bias!.values);
  if (bn) foldAffine(weight.values, b, batchNormAffine(bn, host));
  return { weight, bias: b, groups };
}

/** w[o, …] ·= scale[o]; b[o] = b[o] · scale[o] + shift[o]. */
function foldAffine(w: Float32Array, b: Float64Array, { scale, shift }: { scale: Float64Array; shift: Float64Array }): void {
  const perChannel = w.length / b.length;
  for (let o = 0; o < b.length; o++) {
    for (let k = o * perChannel; k < (o + 1) * perChannel; k++) w[k] = w[k]! * scale[o]!;
    b[o] = b[o]! * scale[o]! + shift[o]!;
  }
}

function dilations(rate: number[] | number): number[] {
  return Array.isArray(rate) ? (rate.length === 1 ? [rate[0]!, rate[0]!] : rate) : [rate, rate];
}

/** ONNX pads [top, left, bottom, right], or SAME_UPPER; plus a folded ZeroPadding2D's. */
function padding({ padding: mode, strides }: ConvConfig, kernel: number[], dilation: number[], folded = [0, 0, 0, 0]): AttributeProto[] {
  if (mode === 'same' && strides.some((s) => s !== 1)) return [stringAttr('auto_pad', 'SAME_UPPER')];
  const same = [0, 1].map((axis) => (mode === 'same' ? (kernel[axis]! - 1) * dilation[axis]! : 0));
  const begin = same.map((total) => Math.floor(total / 2));
  const pads = [...begin, ...same.map((total, axis) => total - begin[axis]!)];
  return [intsAttr('pads', pads.map((p, k) => p + folded[k]!))];
}
