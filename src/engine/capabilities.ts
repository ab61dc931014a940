import * as tf from '../core/tf.js';

/** A form of convolution padding a backend's kernels accept besides `'valid'` and `'same'`. */
export type PadForm = 'number' | 'explicit';

/**
 * What a tfjs backend runs, as fastvision's speed-ups need to know it. Every speed-up
 * reads this table and either runs in a form the backend accepts or steps aside.
 */
export interface EngineCapabilities {
  /**
   * Tensors live in this process's memory: fastvision's fused loops (BatchNorm, ReLU)
   * run over them, and reading a value back costs no device sync.
   */
  hostMemory: boolean;
  /** fastvision's own gradient kernels replace the backend's (wasm). */
  customKernels: boolean;
  /** Padding forms the convolution kernels accept in a forward pass (`Conv2D`, `DepthwiseConv2dNative`, the fused ones). */
  forwardPadding: readonly PadForm[];
  /** Padding forms the convolution gradient kernels accept (`Conv2DBackprop*`, `DepthwiseConv2dNativeBackprop*`). */
  gradientPadding: readonly PadForm[];
  /**
   * The `Transform` kernel (`tf.image.transform`) warps every image of a batch. tfjs
   * 4.22's cpu kernel returns after the first image (the rest stay at the fill value),
   * so there fastvision warps one image at a time.
   */
  batchedTransform: boolean;
  /** Whether this row was proven here (by a test on this backend or an emulation of it), or is a conservative guess. */
  verified: boolean;
}

/**
 * One row per tfjs backend name (`tensorflow` is tfjs-node and tfjs-node-gpu).
 * tfjs-node 4.22's conv kernels accept only `'valid'`/`'same'` in gradients and pools,
 * and explicit padding (sent on to TensorFlow as `explicit_paddings`) in forward
 * convolutions, never a number: the native-contract test holds fastvision to that.
 * tfjs-backend-webgpu 4.22 computes a convolution's geometry in tfjs-core, so every
 * padding form reaches its forward and gradient kernels; its `Transform` warps the whole
 * batch (both proven on SwiftShader by the webgpu test). Its tensors live in GPU memory.
 * Backends not listed (webgl, anything new) get {@link unknownBackend}: the
 * stock forms only. Speed-ups read the row at every call, so a backend switched
 * between two fits is honoured (and a test can change a row to prove what breaks).
 *
 * @example
 * ```ts
 * engineCapabilities.tensorflow.gradientPadding;   // []: fold no padding into a training convolution
 * ```
 */
export const engineCapabilities: Record<string, EngineCapabilities> = {
  wasm: { hostMemory: true, customKernels: true, forwardPadding: ['number', 'explicit'], gradientPadding: ['explicit'], batchedTransform: true, verified: true },
  cpu: { hostMemory: true, customKernels: false, forwardPadding: ['number', 'explicit'], gradientPadding: ['explicit'], batchedTransform: false, verified: true },
  tensorflow: { hostMemory: false, customKernels: false, forwardPadding: ['explicit'], gradientPadding: [], batchedTransform: true, verified: true },
  webgpu: { hostMemory: false, customKernels: false, forwardPadding: ['number', 'explicit'], gradientPadding: ['number', 'explicit'], batchedTransform: true, verified: true },
};

/** Any backend without a row: no fused loops, no folded padding, device reads treated as syncs. */
export const unknownBackend: EngineCapabilities = { hostMemory: false, customKernels: false, forwardPadding: [], gradientPadding: [], batchedTransform: false, verified: false };

/**
 * The capabilities of `backendName` (default: the active tfjs backend).
 *
 * @example
 * ```ts
 * if (capabilities().hostMemory) { ... }   // wasm or cpu
 * ```
 */
export function capabilities(backendName: string = tf.getBackend()): EngineCapabilities {
  return engineCapabilities[backendName] ?? unknownBackend;
}

/** Whether training convolutions take over a preceding ZeroPadding2D's padding (explicit padding in forward and gradient kernels). */
export function foldsPaddingInTraining(caps: EngineCapabilities = capabilities()): boolean {
  return caps.gradientPadding.includes('explicit') && caps.forwardPadding.includes('explicit');
}

/**
 * The speed-ups fastvision uses on a backend, in a phrase (for `backendInfo()` and `fastvision info`).
 *
 * @example
 * ```ts
 * describeSpeedUps(capabilities('tensorflow'));   // 'reads once per epoch; padding as tfjs-node accepts it (explicit in forward convolutions only)'
 * ```
 */
export function describeSpeedUps(caps: EngineCapabilities): string {
  const parts: string[] = [];
  if (caps.hostMemory) parts.push('fused BatchNorm and ReLU loops');
  else parts.push('losses and metrics read once per epoch');
  if (caps.customKernels) parts.push("fastvision's gradient kernels");
  if (foldsPaddingInTraining(caps)) parts.push('padding folded into convolutions');
  else if (caps.forwardPadding.includes('explicit')) parts.push('padding folded into inference convolutions only (the gradient kernels refuse it)');
  else parts.push('stock padding (forms not proven on this backend)');
  return parts.join('; ');
}
