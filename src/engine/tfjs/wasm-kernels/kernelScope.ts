import { getKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '../../../core/tf.js';
import { wasmHeapF32, wasmOutput } from '../hostCompute.js';

/**
 * Runs other kernels of the same backend from inside a kernel, and frees every
 * intermediate result when the composite kernel is done.
 *
 * Kernels are called directly (not through tf ops) so nothing reaches the engine's
 * tape or scope: the engine sees one kernel, with one output.
 */
export class KernelScope {
  private readonly temps: TensorInfo[] = [];

  constructor(
    private readonly backend: KernelBackend,
    private readonly backendName: string,
  ) {}

  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
    const kernel = getKernel(kernelName, this.backendName);
    if (kernel == null) {
      throw new Error(`fastvision internal: kernel '${kernelName}' is not registered for backend '${this.backendName}'`);
    }
    const out = kernel.kernelFunc({ inputs, attrs: attrs as NamedAttrMap, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`fastvision internal: kernel '${kernelName}' returned several outputs`);
    this.temps.push(out);
    return out;
  }

  /** A new float32 tensor for a JS loop to fill (wasm memory is not zeroed: write every element). */
  output(shape: number[]): TensorInfo {
    const out = wasmOutput(this.backend, shape);
    this.temps.push(out);
    return out;
  }

  /** A view of a tensor's memory. Take views after the last `output` or `run` of a step: allocating may move the heap. */
  f32(x: TensorInfo): Float32Array {
    return wasmHeapF32(this.backend, x);
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Disposes every intermediate except `result`, which is handed to the engine. */
  finish(result: TensorInfo): TensorInfo {
    for (const t of this.temps) {
      if (t !== result) this.backend.disposeData(t.dataId);
    }
    this.temps.length = 0;
    return result;
  }

  /** Disposes every intermediate; used when a kernel throws half-way. */
  abandon(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `body` with a fresh scope, freeing intermediates on success and on error. */
export function withScope(
  backend: object,
  backendName: string,
  body: (s: KernelScope) => TensorInfo,
): TensorInfo {
  const scope = new KernelScope(backend as KernelBackend, backendName);
  let result: TensorInfo;
  try {
    result = body(scope);
  } catch (err) {
    scope.abandon();
    throw err;
  }
  return scope.finish(result);
}
