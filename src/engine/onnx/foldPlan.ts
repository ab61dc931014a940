import type * as tf from '../../core/tf.js';
import { nodeIn, soleReader } from '../tfjs/graph.js';
import { normalisesChannels } from './batchNorm.js';

/**
 * Which layers disappear into a convolution, decided before anything is written
 * (as FusedInference decides its fused chains): a BatchNormalization that alone reads
 * a linear conv's output becomes the conv's weights and bias, and a ZeroPadding2D
 * that feeds only a conv with explicit pads ('valid', or 'same' with stride 1: see
 * conv.ts) adds to its `pads`. A ZeroPadding2D before anything else stays a Pad with
 * zeros: ONNX's MaxPool pads with −∞, Keras with 0. ONNX Runtime would fuse some of
 * this itself, but a folded graph is the same on every runtime and smaller to ship.
 */
export interface FoldPlan {
  /** The BatchNormalization folded into a conv, by conv. */
  batchNorm: Map<tf.layers.Layer, tf.layers.Layer>;
  /** A folded ZeroPadding2D's padding as the conv's ONNX `pads` [top, left, bottom, right], by conv. */
  pads: Map<tf.layers.Layer, number[]>;
  /** Layers written as part of another: their output is their input's value. */
  absorbed: Set<tf.layers.Layer>;
}

const isConv = (l: tf.layers.Layer) => ['Conv2D', 'DepthwiseConv2D'].includes(l.getClassName());
const config = (l: tf.layers.Layer) => l.getConfig() as Record<string, unknown>;

function explicitPads(conv: tf.layers.Layer): boolean {
  const { padding, strides } = config(conv) as { padding: string; strides: number[] };
  return padding === 'valid' || (padding === 'same' && strides.every((s) => s === 1));
}

export function planFolds(model: tf.LayersModel): FoldPlan {
  const reader = soleReader(model);
  const plan: FoldPlan = { batchNorm: new Map(), pads: new Map(), absorbed: new Set() };
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const out = nodeIn(model, layer).outputTensors[0]!;
    const next = reader(out);
    if (!next) continue;
    if (isConv(layer) && config(layer).activation === 'linear' && next.getClassName() === 'BatchNormalization' && normalisesChannels(next, 4)) {
      plan.batchNorm.set(layer, next);
      plan.absorbed.add(next);
    }
    if (layer.getClassName() === 'ZeroPadding2D' && config(layer).dataFormat === 'channelsLast' && isConv(next) && explicitPads(next)) {
      const [[top, bottom], [left, right]] = config(layer).padding as [[number, number], [number, number]];
      plan.pads.set(next, [top, left, bottom, right]);
      plan.absorbed.add(layer);
    }
  }
  return plan;
}
