/**
 * fastvision: fastai's transfer-learning workflow for image classification,
 * in TypeScript, on TensorFlow.js.
 *
 * @packageDocumentation
 */
export { initBackend, backendInfo, backendSpecs } from './core/backend.js';
export type { BackendInfo, BackendName, BackendSpec, InitBackendOptions } from './core/backend.js';
export { version } from './version.js';
