import type * as tf from '../../core/tf.js';
import type { Converter } from './converter.js';
import { intAttr, intsAttr, stringAttr } from './proto.js';
import { unsupportedLayer } from './unsupported.js';

interface PoolConfig {
  poolSize: number[];
  strides: number[];
  padding: 'valid' | 'same';
  dataFormat: string;
}

function channelsLast(layer: tf.layers.Layer): void {
  const { dataFormat } = layer.getConfig();
  if (dataFormat !== 'channelsLast') throw unsupportedLayer(layer, `dataFormat ${String(dataFormat)} (only channelsLast is written)`);
}

/**
 * MaxPooling2D and AveragePooling2D. With 'same', TF ignores the padding (max over
 * real pixels, average over real pixels only), as ONNX's SAME_UPPER with MaxPool and
 * with AveragePool's default count_include_pad = 0 do. 'valid' is written as
 * auto_pad VALID, not as `pads` of zeros: ONNX Runtime's PadFusion (1.30) moves a
 * zero Pad before a pool with `pads` into those pads, where MaxPool pads with −∞ and
 * AveragePool leaves them out of the count, so a ZeroPadding2D before a pool would
 * silently stop padding with zeros.
 */
export const pool: Converter = (layer, [x], { graph }) => {
  channelsLast(layer);
  const config = layer.getConfig() as unknown as PoolConfig;
  const op = layer.getClassName() === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
  const attributes = [
    intsAttr('kernel_shape', config.poolSize),
    intsAttr('strides', config.strides),
    stringAttr('auto_pad', config.padding === 'same' ? 'SAME_UPPER' : 'VALID'),
  ];
  return { name: graph.node(op, [x!.name], layer.name, attributes), rank: 4 };
};

/** GlobalAveragePooling2D and GlobalMaxPooling2D: ONNX keeps `[N, C, 1, 1]`, Keras gives `[N, C]`. */
export const globalPool: Converter = (layer, [x], { graph }) => {
  channelsLast(layer);
  const op = layer.getClassName() === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool';
  const pooled = graph.node(op, [x!.name], `${layer.name}_${op}`);
  return { name: graph.node('Flatten', [pooled], layer.name, [intAttr('axis', 1)]), rank: 2 };
};
