import * as tf from '../../core/tf.js';
import { FastvisionError } from '../../core/errors.js';

/**
 * Every private field of tfjs that fastvision relies on, in one place. tfjs-layers
 * keeps a layer's configuration, its weights and its place in the graph in fields its
 * typings mark private (or leave out); the wasm backend keeps tensor memory in its
 * own map. fastvision's speed-ups read them, so they are declared here, read only
 * through the accessors below (a test keeps every other file off them), and checked
 * once when a backend starts ({@link checkPrivateFields}): a tfjs release that renames
 * one fails there, with a message naming the field and the version, not deep in a
 * training step.
 */

/** A layer's call inside a model: the symbolic tensors it read and wrote. */
export interface GraphNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

/** The `call` method a layer runs for `apply`, which layer overrides wrap. */
export type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** Conv2D and DepthwiseConv2D. */
export interface ConvFields {
  rank?: number;
  strides: number[];
  padding: 'valid' | 'same';
  dilationRate: number[] | number;
  dataFormat: string;
  kernel?: tf.LayerVariable;
  depthwiseKernel?: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  useBias: boolean;
  activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string };
}

/** BatchNormalization. */
export interface BatchNormFields {
  axis: number;
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
  /** Null without `scale`. */
  gamma: tf.LayerVariable | null;
  /** Null without `center`. */
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

/** ReLU (plain, or capped as ReLU6). */
export interface ReluFields {
  maxValue: number | null;
}

/** ZeroPadding2D: `[[top, bottom], [left, right]]`. */
export interface ZeroPaddingFields {
  padding: [[number, number], [number, number]];
}

/** What fastvision uses of tfjs-backend-wasm's backend object. */
export interface WasmBackendFields {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
}

/** Private field names by owner: what {@link checkPrivateFields} checks, and what no file outside `src/engine/` may touch. */
export const tfjsPrivateFields = {
  Layer: ['inboundNodes', 'call'],
  LayersModel: ['containerNodes'],
  Conv2D: ['strides', 'padding', 'dilationRate', 'dataFormat', 'kernel', 'bias', 'useBias', 'activation'],
  DepthwiseConv2D: ['depthwiseKernel'],
  BatchNormalization: ['axis', 'epsilon', 'momentum', 'center', 'scale', 'gamma', 'beta', 'movingMean', 'movingVariance'],
  ReLU: ['maxValue'],
  ZeroPadding2D: ['padding'],
  wasm: ['makeOutput', 'dataIdMap', 'wasm'],
  cpu: ['firstUse'],
  tensorflow: ['isUsingGpuDevice'],
} as const;

type Fields<T> = tf.layers.Layer & T;

/** A Conv2D or DepthwiseConv2D layer's configuration and weights. */
export const convFields = (layer: tf.layers.Layer) => layer as Fields<ConvFields>;
/** A BatchNormalization layer's configuration and weights. */
export const batchNormFields = (layer: tf.layers.Layer) => layer as Fields<BatchNormFields>;
/** A ReLU layer's cap. */
export const reluFields = (layer: tf.layers.Layer) => layer as Fields<ReluFields>;
/** A ZeroPadding2D layer's padding. */
export const zeroPaddingFields = (layer: tf.layers.Layer) => layer as Fields<ZeroPaddingFields>;
/** A layer's `call`, to wrap (see `layerOverrides.ts`). */
export const callOf = (layer: tf.layers.Layer) => layer as Fields<{ call: LayerCall }>;
/** The wasm backend's memory, for kernels that loop in JS. */
export const wasmBackendFields = (backend: object) => backend as WasmBackendFields;

/** Every call of `layer` (one node per model or re-application that uses it). */
export function layerNodes(layer: tf.layers.Layer): GraphNode[] {
  return (layer as unknown as { inboundNodes: GraphNode[] }).inboundNodes;
}

/**
 * The node through which `model` calls `layer`. A layer shared by several models
 * (a body re-applied to a new input, a head rebuilt on features) has one node per
 * call; tfjs-layers records which belong to a model as `<name>_ib-<index>`.
 */
export function nodeIn(model: tf.LayersModel, layer: tf.layers.Layer): GraphNode {
  const own = (model as unknown as { containerNodes: Set<string> }).containerNodes;
  const nodes = layerNodes(layer);
  const k = nodes.findIndex((_, i) => own.has(`${layer.name}_ib-${i}`));
  if (k < 0) throw new FastvisionError('BACKEND', `fastvision: layer '${layer.name}' is not called by model '${model.name}'`);
  return nodes[k]!;
}

/** How many times `model` calls `layer` (more than once for a layer shared inside the model). */
export function callsIn(model: tf.LayersModel, layer: tf.layers.Layer): number {
  const own = (model as unknown as { containerNodes: Set<string> }).containerNodes;
  return layerNodes(layer).filter((_, i) => own.has(`${layer.name}_ib-${i}`)).length;
}

/** Whether tfjs-node's backend computes on a GPU (false for tfjs-node-gpu without a usable CUDA). */
export function nativeUsesGpu(backend: object): boolean {
  return (backend as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
}

/** Turns off the cpu backend's own first-use banner (fastvision prints a better warning). */
export function silenceCpuBanner(backend: object): void {
  const cpu = backend as { firstUse?: boolean };
  if (cpu.firstUse) cpu.firstUse = false;
}

/**
 * Checks that every field in {@link tfjsPrivateFields} is where fastvision expects
 * it, on a throwaway model (and the backend's object for wasm and cpu). Throws one
 * error listing the missing ones with the installed tfjs version.
 *
 * @param backendName - The tfjs backend now active.
 */
export function checkPrivateFields(backendName: string): void {
  const missing: string[] = [];
  const expect = (owner: string, target: object, fields: readonly string[]) => {
    for (const f of fields) if (!(f in target)) missing.push(`${owner}.${f}`);
  };
  tf.tidy(() => {
    const input = tf.input({ shape: [4, 4, 2] });
    const layers = {
      ZeroPadding2D: tf.layers.zeroPadding2d({ padding: 1 }),
      Conv2D: tf.layers.conv2d({ filters: 2, kernelSize: 3 }),
      DepthwiseConv2D: tf.layers.depthwiseConv2d({ kernelSize: 1 }),
      BatchNormalization: tf.layers.batchNormalization(),
      ReLU: tf.layers.reLU({ maxValue: 6 }),
    };
    let x: tf.SymbolicTensor = input;
    for (const layer of Object.values(layers)) x = layer.apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    expect('LayersModel', model, tfjsPrivateFields.LayersModel);
    expect('Layer', layers.Conv2D, tfjsPrivateFields.Layer);
    for (const [owner, layer] of Object.entries(layers)) expect(owner, layer, tfjsPrivateFields[owner as keyof typeof layers]);
    model.dispose();
  });
  if (backendName === 'wasm' || backendName === 'cpu' || backendName === 'tensorflow') expect(`${backendName} backend`, tf.backend(), tfjsPrivateFields[backendName]);
  if (missing.length) {
    throw new FastvisionError('BACKEND',
      `fastvision: @tensorflow/tfjs-core ${tf.version_core} lacks internals fastvision relies on (${missing.join(', ')}); ` +
        'fastvision is built for @tensorflow/tfjs 4.22: install that version (`npm install @tensorflow/tfjs@4.22`)',
    );
  }
}
