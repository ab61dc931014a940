import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '../../../core/tf.js';
import { conv2dBackpropFilterConfig } from './conv2dBackpropFilter.js';
import { conv2dBackpropInputConfig } from './conv2dBackpropInput.js';
import { depthwiseBackpropFilterConfig } from './depthwiseBackpropFilter.js';
import { depthwiseBackpropInputConfig } from './depthwiseBackpropInput.js';

/**
 * fastvision's gradient kernels for tfjs-backend-wasm. Stock wasm has no
 * backprop-filter kernels at all (so no conv net can train) and a scalar-loop
 * Conv2DBackpropInput; each of these is built from XNNPACK forward kernels.
 */
export const wasmKernelConfigs: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
];

/**
 * Registers the kernels, replacing stock ones of the same name. Idempotent: returns
 * how many it registered (0 when they already were).
 */
export function registerWasmKernels(): number {
  let registered = 0;
  for (const config of wasmKernelConfigs) {
    const current = getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    // Unregistering first keeps tfjs from warning that the name is taken.
    if (current != null) unregisterKernel(config.kernelName, config.backendName);
    registerKernel(config);
    registered++;
  }
  return registered;
}

/** True when every fastvision wasm kernel is the one tfjs will run. */
export function wasmKernelsRegistered(): boolean {
  return wasmKernelConfigs.every((c) => getKernel(c.kernelName, c.backendName)?.kernelFunc === c.kernelFunc);
}
