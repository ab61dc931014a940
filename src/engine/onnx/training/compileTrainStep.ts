import type * as tf from '../../../core/tf.js';
import { FastvisionError } from '../../../core/errors.js';
import { version } from '../../../version.js';
import { nodeIn, soleReader } from '../../tfjs/graph.js';
import { layerCalls } from '../layerCalls.js';
import { encodeModel, onnx, type ValueInfoProto } from '../proto.js';
import { activationTrain, reluTrain } from './activation.js';
import { batchNormTrain } from './batchNorm.js';
import { convTrain } from './conv.js';
import { denseTrain } from './dense.js';
import { dropoutTrain } from './dropout.js';
import { unsupportedForTraining, type LayerContext, type LayerStep, type LayerWriter } from './layerStep.js';
import { bceWithLogits, crossEntropy } from './loss.js';
import { addTrain, concatenateTrain } from './merge.js';
import { zeroPaddingTrain } from './padding.js';
import { globalAvgPoolTrain, globalMaxPoolTrain, maxPoolTrain } from './pooling.js';
import { optimizers, type GroupHypers } from './optimizers.js';
import type { CompiledTrainStep, IoSpec, StateEntry, TrainStepConfig } from './spec.js';
import { TrainGraph, type TVal } from './trainGraph.js';

/** Every layer class a training step is written for, by tfjs class name. */
const writers: Record<string, LayerWriter> = {
  Conv2D: convTrain,
  DepthwiseConv2D: convTrain,
  BatchNormalization: batchNormTrain,
  ReLU: reluTrain,
  Activation: activationTrain,
  Add: addTrain,
  Concatenate: concatenateTrain,
  ZeroPadding2D: zeroPaddingTrain,
  MaxPooling2D: maxPoolTrain,
  GlobalAveragePooling2D: globalAvgPoolTrain,
  GlobalMaxPooling2D: globalMaxPoolTrain,
  Dense: denseTrain,
  Dropout: dropoutTrain,
};

/** IR 8 with opset 16: ScatterElements' `reduction` (max-pool backward) needs 16; ONNX Runtime ≥ 1.11 reads it. */
const irVersion = 8;
const opset = 16;

/**
 * Compiles `model`'s whole training step into one ONNX graph for ONNX Runtime:
 * forward in training mode, mean softmax cross-entropy, the backward pass of every
 * layer, and the optimizer's update (SGD with momentum or AdamW, per layer group). Weights, optimizer buffers and BatchNorm
 * running statistics are graph *inputs* and their new values are outputs (see
 * {@link CompiledTrainStep.state}), so one session serves every step and a schedule
 * changes each group's `lr`, `mom`, `wd`… (scalar inputs `g<k>:<name>`) without recompiling.
 *
 * Shapes are static (`cfg.batch`, `cfg.height`, `cfg.width`): a last, smaller batch
 * needs its own compiled step. Frozen layers (`cfg.trainable(name)` false) get no
 * weight gradient; the backward pass goes through them only where a trainable layer
 * lies below.
 *
 * @throws FastvisionError `BAD_OPTION` naming a layer it cannot write (e.g. a DepthwiseConv2D: no backward yet).
 */
export function compileTrainStep(model: tf.LayersModel, cfg: TrainStepConfig): CompiledTrainStep {
  const lossOf = { crossEntropy, bceWithLogits }[cfg.loss];
  if (!lossOf) throw new FastvisionError('BAD_OPTION', `fastvision: compileTrainStep's loss must be 'crossEntropy' or 'bceWithLogits', got '${cfg.loss}'`);
  const optimizer = optimizers[cfg.optimizer];
  if (!optimizer) throw new FastvisionError('BAD_OPTION', `fastvision: compileTrainStep's optimizer must be ${Object.keys(optimizers).map((k) => `'${k}'`).join(' or ')}, got '${cfg.optimizer}'`);
  const groups = cfg.groups ?? 1;
  const groupOf = cfg.groupOf ?? (() => 0);
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new FastvisionError('BAD_OPTION', `fastvision: compileTrainStep needs one input and one output; '${model.name}' has ${model.inputs.length} and ${model.outputs.length}`);
  const graph = new TrainGraph();
  const inputs: ValueInfoProto[] = [];
  const outputs: ValueInfoProto[] = [];
  const ioIn: IoSpec[] = [];
  const ioOut: IoSpec[] = [];
  const state: StateEntry[] = [];
  const float = onnx.TensorProto.DataType.FLOAT;
  const addInput = (name: string, shape: number[], dtype: 'float32' | 'int64' = 'float32', io = true): TVal => {
    if (graph.uniqueName(name) !== name) throw new Error(`fastvision: duplicate graph input ${name}`);
    inputs.push(info(name, shape, dtype === 'float32' ? float : onnx.TensorProto.DataType.INT64));
    if (io) ioIn.push({ name, dtype, shape });
    return { name, shape };
  };
  const addOutput = (value: TVal, name: string, io = false): void => {
    if (graph.uniqueName(name) !== name) throw new Error(`fastvision: duplicate graph output ${name}`);
    graph.output(value, name);
    outputs.push(info(name, value.shape, float));
    if (io) ioOut.push({ name, dtype: 'float32', shape: value.shape });
  };

  const { batch, height, width } = cfg;
  const channels = model.inputs[0]!.shape[3] ?? 3;
  const image = addInput('image', [batch, height, width, channels]);
  const classes = model.outputs[0]!.shape.at(-1);
  if (typeof classes !== 'number') throw new FastvisionError('BAD_OPTION', `fastvision: compileTrainStep needs logits [batch, classes]; '${model.name}' outputs ${JSON.stringify(model.outputs[0]!.shape)}`);
  const targets = addInput('targets', [batch, classes]);
  const update = cfg.update ?? true;
  const hypers: GroupHypers[] = Array.from({ length: update ? groups : 0 }, (_, k) => {
    const h = Object.fromEntries(optimizer.hypers.map((name) => [name, addInput(`g${k}:${name}`, [])]));
    return { ...h, ...optimizer.derive(graph, h, k) };
  });

  const trainableLayer = (l: tf.layers.Layer) => l.weights.length > 0 && cfg.trainable(l.name);
  const folded = planPadFolds(model);
  const values = new Map<number, TVal>([[model.inputs[0]!.id, graph.transpose(image, [0, 3, 1, 2], 'image_nchw')]]);
  // Whether a tensor's gradient is needed: some trainable layer lies at or below it.
  const needsGrad = new Map<number, boolean>([[model.inputs[0]!.id, false]]);
  const tape: { step: LayerStep; inIds: number[]; outId: number; weights: Map<string, StateEntry>; trainable: boolean }[] = [];
  const runningStats: [StateEntry, TVal][] = [];

  for (const { layer, className, node } of layerCalls(model, unsupportedForTraining)) {
    const inIds = node.inputTensors.map((t) => t.id);
    const xs = inIds.map((id) => values.get(id)!);
    const outId = node.outputTensors[0]!.id;
    const trainable = trainableLayer(layer);
    needsGrad.set(outId, trainable || inIds.some((id) => needsGrad.get(id)));
    if (folded.absorbed.has(layer)) {
      values.set(outId, xs[0]!);
      tape.push({ step: { output: xs[0]!, backward: (dy) => ({ dx: [dy] }) }, inIds, outId, weights: new Map(), trainable: false });
      continue;
    }
    const write = writers[className];
    if (!write) throw unsupportedForTraining(layer, `its class is not supported (supported: InputLayer, ${Object.keys(writers).join(', ')})`);
    const weights = new Map<string, StateEntry>();
    const ctx: LayerContext = {
      graph,
      trainable,
      inferenceMode: cfg.bnInference?.(layer.name) ?? false,
      foldedPads: folded.pads.get(layer),
      weight(role) {
        const index = layer.weights.findIndex((v) => v.originalName.endsWith(`/${role}`));
        if (index < 0) return undefined;
        const v = layer.weights[index]!;
        const kerasShape = v.shape as number[];
        const conv = role === 'kernel' && kerasShape.length === 4;
        const depthwise = role === 'depthwise_kernel';
        // ONNX layouts: a conv kernel [out, in, kh, kw]; a depthwise one [C·m, 1, kh, kw] (a grouped Conv's).
        const shape = conv
          ? [kerasShape[3]!, kerasShape[2]!, kerasShape[0]!, kerasShape[1]!]
          : depthwise
            ? [kerasShape[2]! * kerasShape[3]!, 1, kerasShape[0]!, kerasShape[1]!]
            : kerasShape;
        const key = `${layer.name}/${role}`;
        const running = role === 'moving_mean' || role === 'moving_variance';
        const group = groupOf(layer.name);
        if (!(Number.isInteger(group) && group >= 0 && group < groups)) throw new FastvisionError('BAD_OPTION', `fastvision: compileTrainStep's groupOf('${layer.name}') is ${group}; expected a whole number in [0, ${groups})`);
        const entry: StateEntry = { key, layer: layer.name, index, kind: running ? 'runningStat' : 'weight', shape, kerasShape, layout: conv ? 'conv' : depthwise ? 'depthwise' : 'plain', decay: role === 'kernel' || depthwise, group };
        if (!running && trainable && update) entry.slots = optimizer.slots.map((slot) => ({ input: `${key}:${slot}`, output: `${key}:${slot}:next` }));
        state.push(entry);
        weights.set(role, entry);
        const input = addInput(key, shape, 'float32', false);
        for (const slot of entry.slots ?? []) addInput(slot.input, shape, 'float32', false);
        return input;
      },
      setRunningStat(role, value) {
        runningStats.push([weights.get(role)!, value]);
      },
      dropoutMask(shape) {
        return addInput(`${layer.name}:mask`, shape);
      },
    };
    const step = write(layer, xs, ctx);
    values.set(outId, step.output);
    tape.push({ step, inIds, outId, weights, trainable });
  }

  const logits = values.get(model.outputs[0]!.id)!;
  if (logits.shape.length !== 2) throw new FastvisionError('BAD_OPTION', `fastvision: compileTrainStep needs logits [batch, classes]; '${model.name}' outputs rank ${logits.shape.length}`);
  const { loss, dLogits } = lossOf(graph, logits, targets);
  addOutput(loss, 'loss', true);
  if (cfg.outputLogits) addOutput(logits, 'logits', true);

  // Backward, in reverse model order; a tensor read by several layers sums their gradients.
  const grads = new Map<number, TVal>([[model.outputs[0]!.id, dLogits]]);
  const weightGrads: [StateEntry, TVal][] = [];
  for (let k = tape.length - 1; k >= 0; k--) {
    const { step, inIds, outId, weights, trainable } = tape[k]!;
    const dy = grads.get(outId);
    if (!dy) continue;
    const need = inIds.map((id) => needsGrad.get(id) === true);
    if (!need.some(Boolean) && !trainable) continue;
    const { dx, dw } = step.backward(dy, need);
    inIds.forEach((id, i) => {
      const d = dx[i];
      if (!d || !need[i]) return;
      const prev = grads.get(id);
      grads.set(id, prev ? graph.bin('Add', prev, d, `gradsum_${id}`) : d);
    });
    for (const [role, g] of Object.entries(dw ?? {})) weightGrads.push([weights.get(role)!, g]);
  }

  // The optimizer's update of every trainable weight; the state's outputs in input order.
  const gradOf = new Map(weightGrads);
  const statOf = new Map(runningStats);
  for (const entry of state) {
    const input = { name: entry.key, shape: entry.shape };
    const stat = statOf.get(entry);
    if (stat) {
      entry.output = `${entry.key}:next`;
      addOutput(stat, entry.output);
      continue;
    }
    const g = gradOf.get(entry);
    if (g && !update) {
      addOutput(g, (entry.gradient = `${entry.key}:grad`));
      continue;
    }
    if (!g || !entry.slots) continue;
    const slots = entry.slots.map((slot) => ({ name: slot.input, shape: entry.shape }));
    const next = optimizer.update(graph, input, slots, g, hypers[entry.group]!, entry.decay, `${cfg.optimizer}_${entry.key.replace(/\W/g, '_')}`);
    entry.output = `${entry.key}:next`;
    addOutput(next.w, entry.output);
    entry.slots.forEach((slot, k) => addOutput(next.slots[k]!, slot.output));
    if (cfg.outputGradients) addOutput(g, (entry.gradient = `${entry.key}:grad`));
  }
  // Trainable weights no gradient reaches (none in a connected model) would leave optimizer inputs unused.
  const unreached = state.filter((e) => e.slots && !e.output);
  if (unreached.length) throw new FastvisionError('BAD_OPTION', `fastvision: compileTrainStep found no gradient for ${unreached.map((e) => e.key).join(', ')}`);

  // Graph inputs: the per-batch ones first, then the state in the order it was read.
  const bytes = encodeModel({
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'fastvision',
    producerVersion: version,
    docString: `training step of ${model.name}: batch ${batch}, ${height}×${width}`,
    graph: { name: `${model.name}_train_step`, node: graph.nodes, initializer: graph.initializers, input: inputs, output: outputs },
  });
  return { bytes, inputs: ioIn, outputs: ioOut, state, config: cfg, nodeCount: graph.nodes.length };
}

function info(name: string, dims: number[], elemType: number): ValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

/**
 * ZeroPadding2D layers folded into the conv they alone feed, as the inference
 * exporter's FoldPlan does (without its BatchNorm folding: training needs the
 * BatchNorm's batch statistics). The conv then pads for itself, which its backward
 * needs anyway; a ZeroPadding2D before anything else (ResNet's before the max pool)
 * stays a Pad.
 */
function planPadFolds(model: tf.LayersModel): { pads: Map<tf.layers.Layer, number[]>; absorbed: Set<tf.layers.Layer> } {
  const reader = soleReader(model);
  const pads = new Map<tf.layers.Layer, number[]>();
  const absorbed = new Set<tf.layers.Layer>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'ZeroPadding2D' || layer.getConfig().dataFormat !== 'channelsLast') continue;
    const next = reader(nodeIn(model, layer).outputTensors[0]!);
    if (!next || !['Conv2D', 'DepthwiseConv2D'].includes(next.getClassName()) || pads.has(next)) continue;
    const [[top, bottom], [left, right]] = layer.getConfig().padding as [[number, number], [number, number]];
    pads.set(next, [top, left, bottom, right]);
    absorbed.add(layer);
  }
  return { pads, absorbed };
}
