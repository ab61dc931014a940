/**
 * The TensorFlow.js namespace fastvision builds on: tfjs-core (ops, gradients, the
 * engine), tfjs-layers (models) and the pure-JS cpu backend, without the umbrella
 * `@tensorflow/tfjs` package's webgl backend, graph-model converter and data API, which
 * a Node library does not use (~190 MB installed). Every module imports tfjs from here.
 */
import '@tensorflow/tfjs-core';
// tfjs-core leaves gradients and `tensor.add(…)`-style methods to whoever bundles it.
import '../../generated/tfjsRegistrations.js';
// The types of those methods (the module augmentations of tfjs-core's Tensor).
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
// Named, not `export *`: the declaration bundler cannot tell which of two external
// modules a star-exported name comes from.
export {
  Callback, CallbackList, CustomCallback, EarlyStopping, History, InputSpec, LayerVariable, LayersModel, RNN, Sequential,
  SymbolicTensor, callbacks, constraints, initializers, input, layers, loadLayersModel, metrics, model, models,
  registerCallbackConstructor, regularizers, sequential, version_layers,
} from '@tensorflow/tfjs-layers';
