import type * as tf from '../../../core/tf.js';

/** What {@link compileTrainStep} compiles: the batch and image size are fixed, and which layers train. */
export interface TrainStepConfig {
  batch: number;
  height: number;
  width: number;
  /**
   * `'crossEntropy'`: mean softmax cross-entropy over the batch against soft targets
   * (one-hot rows: tfjs's `losses.softmaxCrossEntropy`). `'bceWithLogits'`: fastai's
   * BCEWithLogitsLossFlat, the mean over items and classes, against multi-hot targets.
   */
  loss: 'crossEntropy' | 'bceWithLogits';
  /**
   * `'adam'`: fastai's Adam (AdamW), the Learner's optimizer. `'sgd'`: SGD with
   * momentum, fastai's form: `p ← p·(1 − lr·wd)`, then `m ← mom·m + g`, `p ← p − lr·m`
   * (tfjs's `train.momentum` when wd is 0). Weight decay is decoupled and on kernels
   * only: BatchNorm and bias weights are exempt, as a Learner's `noWd`.
   */
  optimizer: 'sgd' | 'adam';
  /** Layer groups, each with its own hyper-parameter inputs (discriminative learning rates). Default 1. */
  groups?: number;
  /** A layer's group, in [0, groups). Default: every layer in group 0. */
  groupOf?: (layerName: string) => number;
  /** Whether a layer's weights train; frozen ones are graph inputs with no gradient and no update. */
  trainable: (layerName: string) => boolean;
  /** BatchNorm layers that run in inference mode (running statistics, no updates), as fastai's BnFreeze runs frozen ones. Default none. */
  bnInference?: (layerName: string) => boolean;
  /**
   * False: no optimizer in the graph — it outputs every trainable weight's gradient
   * (`<key>:grad`) and leaves the weights as they are (BatchNorm statistics still
   * update), for callbacks that read or change gradients before the step; the update is
   * then {@link compileUpdateStep}'s graph. Default true.
   */
  update?: boolean;
  /** Also output every trainable weight's gradient (`<key>:grad`), for tests and diagnostics. Default false. */
  outputGradients?: boolean;
  /** Also output the forward pass's logits (`logits`, `[batch, classes]`). Default false. */
  outputLogits?: boolean;
}

/**
 * How a weight is stored in the step's state: ONNX's layout, so the graph reads it
 * with no transpose. `conv`: Keras `[kh, kw, in, out]` is ONNX `[out, in, kh, kw]`;
 * `depthwise`: Keras `[kh, kw, C, m]` is ONNX `[C·m, 1, kh, kw]`; `plain`: the same
 * memory (Dense kernels `[in, out]`, vectors).
 */
export type WeightLayout = 'conv' | 'depthwise' | 'plain';

/** One persistent tensor of the step: a weight (with its optimizer buffers when it trains) or a BatchNorm running statistic. */
export interface StateEntry {
  /** `<layer>/<weight>`, e.g. `conv1/kernel`, `bn1/moving_mean`: the graph input's name. */
  key: string;
  layer: string;
  /** Index into `layer.weights` (tfjs's LayerVariable order). */
  index: number;
  kind: 'weight' | 'runningStat';
  /** Shape in the graph (ONNX layout). */
  shape: number[];
  /** Shape in tfjs (Keras layout). */
  kerasShape: number[];
  layout: WeightLayout;
  /** The updated value's output; absent for frozen weights (they pass through unchanged). */
  output?: string;
  /** The optimizer's buffers (SGD: `mom`; Adam: `gradAvg`, `sqrAvg`), input and output (trainable weights only). */
  slots?: { input: string; output: string }[];
  /** The layer group whose hyper-parameters update it. */
  group: number;
  /** The gradient's output, with `outputGradients`. */
  gradient?: string;
  /** Whether weight decay applies (kernels). */
  decay: boolean;
}

/** A graph input or output that is not state. */
export interface IoSpec {
  name: string;
  dtype: 'float32' | 'int64';
  shape: number[];
}

/** What {@link compileTrainStep} returns. */
export interface CompiledTrainStep {
  /** The ONNX ModelProto (IR 8, opset 16). */
  bytes: Uint8Array;
  /**
   * Per-batch inputs: `image` (NHWC float32, normalised as fastvision feeds tfjs),
   * `targets` (float32 `[batch, classes]`, rows summing to 1), one `<dropout layer>:mask` per Dropout with a
   * rate (the kept units scaled by 1/(1 − rate), in the layer output's layout: NCHW
   * for 4-D) and each group's scalar hyper-parameters `g<k>:lr`, `g<k>:mom`, … (see the optimizer).
   */
  inputs: IoSpec[];
  /** `loss` (a scalar); the state's outputs are in {@link state}. */
  outputs: IoSpec[];
  /** Every weight, momentum and running statistic, in graph-input order. */
  state: StateEntry[];
  /** The model and config it was compiled for. */
  config: TrainStepConfig;
  /** How many nodes the graph has (for diagnostics). */
  nodeCount: number;
}

/** The layer a state entry reads and writes. */
export function variableOf(model: tf.LayersModel, entry: StateEntry): tf.LayerVariable {
  return model.getLayer(entry.layer).weights[entry.index]!;
}
