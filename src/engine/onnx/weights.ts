import type * as tf from '../../core/tf.js';
import { unsupportedLayer } from './unsupported.js';

/** Every weight's values on the host, by tensor id: read once, asynchronously, before a conversion. */
export type HostValues = ReadonlyMap<number, Float32Array>;

/**
 * Reads every weight of `model` to the host with `data()`: the one read a conversion
 * makes, asynchronous so that backends without synchronous reads (webgpu in Node) can
 * export. float32 weights only (the converters say which layer holds another dtype).
 */
export async function readHostValues(model: tf.LayersModel): Promise<HostValues> {
  const tensors = model.weights.map((w) => w.read()).filter((t) => t.dtype === 'float32');
  const values = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  return new Map(tensors.map((t, i) => [t.id, values[i]!]));
}

/** One weight of a layer, on the host. */
export interface HostWeight {
  shape: number[];
  /** The backend's copy of the data: read it, never write it (on cpu it is the tensor's own memory). */
  values: Float32Array;
}

/** A layer's weights in `getWeights()` order, from the values {@link readHostValues} read. */
export function hostWeights(layer: tf.layers.Layer, host: HostValues): HostWeight[] {
  return layer.getWeights().map((w) => {
    if (w.dtype !== 'float32') throw unsupportedLayer(layer, `a ${w.dtype} weight (only float32 is written)`);
    const values = host.get(w.id);
    if (!values) throw new Error(`fastvision internal: the weights of '${layer.name}' were not read before the conversion`);
    return { shape: w.shape, values };
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
