import type * as tf from '../../core/tf.js';
import { FastvisionError } from '../../core/errors.js';

/**
 * The error for a layer the exporter cannot write: it names the layer, its class and
 * what is wrong, so a user knows which layer to replace (or to report).
 *
 * @param why - What about the layer is unsupported; default its class.
 * @param supported - The layer classes the exporter knows, listed when the class itself is the problem.
 */
export function unsupportedLayer(layer: tf.layers.Layer, why?: string, supported?: readonly string[]): FastvisionError {
  const what = `layer '${layer.name}' (${layer.getClassName()})`;
  const list = supported ? `; the ONNX export supports ${supported.join(', ')}` : '';
  return new FastvisionError('BAD_OPTION', `fastvision: toOnnx cannot export ${what}: ${why ?? 'its class is not supported'}${list}`);
}
