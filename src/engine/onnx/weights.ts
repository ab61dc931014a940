import type * as tf from '../../core/tf.js';
import { unsupportedLayer } from './unsupported.js';

/** One weight of a layer, on the host. */
export interface HostWeight {
  shape: number[];
  /** The backend's copy of the data: read it, never write it (on cpu it is the tensor's own memory). */
  values: Float32Array;
}

/**
 * A layer's weights in `getWeights()` order, read with `dataSync`. They are the
 * layer's variables' own tensors, not copies, so there is nothing to dispose.
 */
export function hostWeights(layer: tf.layers.Layer): HostWeight[] {
  return layer.getWeights().map((w) => {
    if (w.dtype !== 'float32') throw unsupportedLayer(layer, `a ${w.dtype} weight (only float32 is written)`);
    return { shape: w.shape, values: w.dataSync() as Float32Array };
  });
}

/**
 * A Keras conv kernel `[kh, kw, in, out]` as ONNX's `[out, in, kh, kw]`. A depthwise
 * kernel `[kh, kw, c, m]` has the memory of `[kh, kw, 1, c·m]` (output channel c·m + q,
 * as Keras orders them), which is the grouped Conv's weight once transposed.
 */
export function onnxConvKernel(kernel: HostWeight, depthwise: boolean): { dims: number[]; values: Float32Array } {
  const [kh, kw, c, m] = kernel.shape as [number, number, number, number];
  const [cin, cout] = depthwise ? [1, c * m] : [c, m];
  const out = new Float32Array(kernel.values.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let ci = 0; ci < cin; ci++)
        for (let co = 0; co < cout; co++) out[((co * cin + ci) * kh + i) * kw + j] = kernel.values[((i * kw + j) * cin + ci) * cout + co]!;
  return { dims: [cout, cin, kh, kw], values: out };
}
