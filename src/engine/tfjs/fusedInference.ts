import * as tf from '../../core/tf.js';
import { capabilities, type EngineCapabilities } from '../capabilities.js';
import { nodeIn, soleReader, type GraphNode } from './graph.js';
import { batchNormFields, convFields, reluFields, zeroPaddingFields, type BatchNormFields, type ConvFields } from './privateFields.js';

/**
 * Inference with every `[ZeroPadding2D →] Conv2D | DepthwiseConv2D [→ BatchNorm] [→ ReLU | ReLU6]`
 * chain run as one fused convolution: BatchNorm folded into the filter and a bias,
 * the padding into the convolution's, the activation into its epilogue. tfjs-layers
 * runs each as its own kernel, and on wasm a BatchNorm or a clip costs as much as a
 * depthwise convolution (half a MobileNetV2 forward pass). Weights are folded again
 * only when a variable has changed since the last call. Padding is folded only in a
 * form the backend's kernels accept (a number on wasm and cpu, explicit on tfjs-node,
 * whose kernels refuse a number); elsewhere the ZeroPadding2D layer runs as it is.
 */

/** One fused convolution: where it reads and writes, and what it absorbed. */
interface ConvStep {
  kind: 'conv';
  input: number;
  output: number;
  conv: tf.layers.Layer & ConvFields;
  depthwise: boolean;
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  bn: (tf.layers.Layer & BatchNormFields) | undefined;
  activation: 'linear' | 'relu' | 'relu6';
}

/** Any other layer, run as tfjs-layers runs it. */
interface LayerStep {
  kind: 'layer';
  inputs: number[];
  outputs: number[];
  layer: tf.layers.Layer;
}

type Step = ConvStep | LayerStep;

const className = (l: tf.layers.Layer) => l.getClassName();

/** The model's layers as steps, with fusable chains merged. */
function plan(model: tf.LayersModel, caps: EngineCapabilities): Step[] {
  const nodeOf = (l: tf.layers.Layer) => nodeIn(model, l);
  const soleConsumer = soleReader(model);
  const absorbed = new Set<tf.layers.Layer>();
  const steps: Step[] = [];
  for (const layer of model.layers) {
    if (absorbed.has(layer) || className(layer) === 'InputLayer') continue;
    const node = nodeOf(layer);
    const conv = fusableConv(layer, node);
    if (conv) {
      steps.push(chain(conv, node, nodeOf, soleConsumer, absorbed));
      continue;
    }
    const padded = className(layer) === 'ZeroPadding2D' ? soleConsumer(node.outputTensors[0]!) : undefined;
    const next = padded && fusableConv(padded, nodeOf(padded));
    const pad = next && foldablePadding(layer, next, caps);
    if (next && pad !== undefined) {
      absorbed.add(next);
      const step = chain(next, nodeOf(next), nodeOf, soleConsumer, absorbed);
      steps.push({ ...step, input: node.inputTensors[0]!.id, pad });
      continue;
    }
    steps.push({ kind: 'layer', layer, inputs: node.inputTensors.map((t) => t.id), outputs: node.outputTensors.map((t) => t.id) });
  }
  return steps;
}

function fusableConv(layer: tf.layers.Layer, node: GraphNode): (tf.layers.Layer & ConvFields) | undefined {
  const name = className(layer);
  if (name !== 'Conv2D' && name !== 'DepthwiseConv2D') return undefined;
  const conv = convFields(layer);
  const linear = conv.activation.getClassName().toLowerCase() === 'linear';
  const dilations = Array.isArray(conv.dilationRate) ? conv.dilationRate : [conv.dilationRate];
  const plain = conv.dataFormat === 'channelsLast' && dilations.every((d) => d === 1) && node.inputTensors.length === 1;
  return linear && plain ? conv : undefined;
}

/** A ZeroPadding2D's padding as the convolution's: a number when symmetric and the backend takes one, else explicit where it takes that. */
function foldablePadding(pad: tf.layers.Layer, conv: tf.layers.Layer & ConvFields, caps: EngineCapabilities): ConvStep['pad'] | undefined {
  if (conv.padding !== 'valid') return undefined;
  const [[t, b], [l, r]] = zeroPaddingFields(pad).padding;
  if (t === b && b === l && l === r && caps.forwardPadding.includes('number')) return t;
  return caps.forwardPadding.includes('explicit') ? [[0, 0], [t, b], [l, r], [0, 0]] : undefined;
}

function chain(
  conv: tf.layers.Layer & ConvFields,
  node: GraphNode,
  nodeOf: (l: tf.layers.Layer) => GraphNode,
  soleConsumer: (t: tf.SymbolicTensor) => tf.layers.Layer | undefined,
  absorbed: Set<tf.layers.Layer>,
): ConvStep {
  let out = node.outputTensors[0]!;
  let bn: (tf.layers.Layer & BatchNormFields) | undefined;
  let activation: ConvStep['activation'] = 'linear';
  const afterConv = soleConsumer(out);
  if (afterConv && className(afterConv) === 'BatchNormalization' && [-1, 3].includes(batchNormFields(afterConv).axis)) {
    bn = batchNormFields(afterConv);
    absorbed.add(bn);
    out = nodeOf(bn).outputTensors[0]!;
  }
  const act = soleConsumer(out);
  const maxValue = act && className(act) === 'ReLU' ? reluFields(act).maxValue : undefined;
  if (act && (maxValue === null || maxValue === 6)) {
    activation = maxValue === 6 ? 'relu6' : 'relu';
    absorbed.add(act);
    out = nodeOf(act).outputTensors[0]!;
  }
  return { kind: 'conv', input: node.inputTensors[0]!.id, output: out.id, conv, depthwise: className(conv) === 'DepthwiseConv2D', pad: conv.padding, bn, activation };
}

/** A conv step's filter and bias with BatchNorm folded in. */
function fold(step: ConvStep): { filter: tf.Tensor4D; bias: tf.Tensor1D | undefined } {
  return tf.tidy(() => {
    const kernel = (step.depthwise ? step.conv.depthwiseKernel! : step.conv.kernel!).read() as tf.Tensor4D;
    const convBias = step.conv.useBias && step.conv.bias ? (step.conv.bias.read() as tf.Tensor1D) : undefined;
    if (!step.bn) return { filter: tf.keep(kernel.clone()), bias: convBias && tf.keep(convBias.clone()) };
    const { bn } = step;
    const mean = bn.movingMean.read() as tf.Tensor1D;
    let scale = tf.rsqrt(tf.add(bn.movingVariance.read(), bn.epsilon)) as tf.Tensor1D;
    if (bn.gamma) scale = tf.mul(scale, bn.gamma.read());
    // Output channel k of a depthwise filter [kh, kw, c, m] is c·m + q.
    const shape = kernel.shape;
    const filter = tf.reshape(tf.mul(tf.reshape(kernel, [-1, scale.size]), scale), shape) as tf.Tensor4D;
    let bias = tf.mul(tf.neg(mean), scale) as tf.Tensor1D;
    if (convBias) bias = tf.add(bias, tf.mul(convBias, scale));
    if (bn.beta) bias = tf.add(bias, bn.beta.read());
    return { filter: tf.keep(filter), bias: tf.keep(bias) };
  });
}

/** The variables a conv step's folded weights come from: when any is reassigned, fold again. */
function sources(step: ConvStep): object[] {
  const vars = [step.conv.kernel, step.conv.depthwiseKernel, step.conv.bias, step.bn?.gamma, step.bn?.beta, step.bn?.movingMean, step.bn?.movingVariance];
  return vars.filter((v): v is tf.LayerVariable => v != null).map((v) => v.read().dataId);
}

/** Runs a model's inference with fused convolutions. Holds folded copies of the conv weights: `dispose()` frees them. */
export class FusedInference {
  private readonly steps: Step[];
  private readonly folded = new Map<ConvStep, { filter: tf.Tensor4D; bias: tf.Tensor1D | undefined; from: object[] }>();

  /** @param caps - What the backend accepts; default the active backend's row. */
  constructor(
    readonly model: tf.LayersModel,
    caps: EngineCapabilities = capabilities(),
  ) {
    if (model.inputs.length !== 1) throw new Error('fastvision internal: fused inference takes models with one input');
    this.steps = plan(model, caps);
  }

  /** How many convolutions absorbed a BatchNorm, an activation or a padding layer. */
  get fusedCount(): number {
    return this.steps.filter((s) => s.kind === 'conv' && (s.bn || s.activation !== 'linear' || typeof s.pad !== 'string')).length;
  }

  /** `model.predict(x)`, with the same values up to float rounding. The caller disposes the result. */
  predict(x: tf.Tensor): tf.Tensor {
    for (const step of this.steps) if (step.kind === 'conv') this.refresh(step);
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>([[this.model.inputs[0]!.id, x]]);
      for (const step of this.steps) {
        if (step.kind === 'layer') {
          const ins = step.inputs.map((id) => values.get(id)!);
          const out = step.layer.apply(ins.length === 1 ? ins[0]! : ins, { training: false }) as tf.Tensor | tf.Tensor[];
          (Array.isArray(out) ? out : [out]).forEach((t, k) => values.set(step.outputs[k]!, t));
          continue;
        }
        const { filter, bias } = this.folded.get(step)!;
        const input = values.get(step.input)! as tf.Tensor4D;
        const [sh, sw] = step.conv.strides as [number, number];
        const y = step.depthwise
          ? // tfjs types the fused depthwise op's pad without the explicit form its kernels take (checked on wasm, cpu and tfjs-node).
            tf.fused.depthwiseConv2d({ x: input, filter, strides: [sh, sw], pad: step.pad as 'valid', bias, activation: step.activation })
          : tf.fused.conv2d({ x: input, filter, strides: [sh, sw], pad: step.pad, bias, activation: step.activation });
        values.set(step.output, y);
      }
      return values.get(this.model.outputs[0]!.id)!;
    });
  }

  dispose(): void {
    for (const f of this.folded.values()) tf.dispose([f.filter, ...(f.bias ? [f.bias] : [])]);
    this.folded.clear();
  }

  private refresh(step: ConvStep): void {
    const from = sources(step);
    const current = this.folded.get(step);
    if (current && current.from.every((d, k) => d === from[k])) return;
    if (current) tf.dispose([current.filter, ...(current.bias ? [current.bias] : [])]);
    this.folded.set(step, { ...fold(step), from });
  }
}
