import * as tf from '../../core/tf.js';
import { wasmBackendFields } from './privateFields.js';

/**
 * Runs `body` over the float32 values of `inputs`, filling new tensors of `outShapes`.
 * On wasm the arrays are views of the backend's heap (nothing is copied); on cpu,
 * the backend's arrays and fresh ones. For fused loops that tfjs has no kernel for.
 */
export function hostCompute(
  inputs: readonly tf.Tensor[],
  outShapes: readonly number[][],
  body: (ins: Float32Array[], outs: Float32Array[]) => void,
): tf.Tensor[] {
  for (const t of inputs) if (t.dtype !== 'float32') throw new Error(`fastvision internal: hostCompute takes float32 tensors, got ${t.dtype}`);
  const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  if (tf.getBackend() === 'wasm') {
    const backend = tf.backend();
    const infos = outShapes.map((s) => wasmOutput(backend, [...s]));
    // Views are taken after every allocation: growing the heap replaces its buffer.
    body(
      inputs.map((t) => wasmHeapF32(backend, t)),
      infos.map((i) => wasmHeapF32(backend, i)),
    );
    return infos.map((i) => tf.engine().makeTensorFromTensorInfo(i));
  }
  if (tf.getBackend() !== 'cpu') throw new Error(`fastvision internal: hostCompute runs on the wasm and cpu backends, not '${tf.getBackend()}'`);
  const outs = outShapes.map((s) => new Float32Array(sizeOf(s)));
  body(
    inputs.map((t) => t.dataSync() as Float32Array),
    outs,
  );
  return outs.map((o, k) => tf.tensor(o, [...outShapes[k]!], 'float32'));
}

/** A float32 view of a wasm-backend tensor's memory, for kernels that loop in JS. Take it after every allocation. */
export function wasmHeapF32(backend: object, info: tf.TensorInfo): Float32Array {
  const b = wasmBackendFields(backend);
  const size = info.shape.reduce((a, d) => a * d, 1);
  if (size === 0) return new Float32Array(0);
  return new Float32Array(b.wasm.HEAPU8.buffer, b.dataIdMap.get(info.dataId)!.memoryOffset, size);
}

/** A new float32 tensor of the wasm backend, for a kernel's output. */
export function wasmOutput(backend: object, shape: number[]): tf.TensorInfo {
  return wasmBackendFields(backend).makeOutput(shape, 'float32');
}
