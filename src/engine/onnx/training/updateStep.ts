import { FastvisionError } from '../../../core/errors.js';
import { version } from '../../../version.js';
import { encodeModel, onnx, type ValueInfoProto } from '../proto.js';
import { optimizers, type GroupHypers } from './optimizers.js';
import type { CompiledTrainStep, IoSpec, StateEntry } from './spec.js';
import { TrainGraph } from './trainGraph.js';

/**
 * The optimizer's update alone, as its own ONNX graph, for a step compiled with
 * `update: false`: inputs are the weights, their optimizer buffers, their gradients
 * (`<key>:grad`, ONNX layout — what the gradient step output, possibly changed by
 * callbacks) and each group's hypers; outputs the new weights and buffers. The state
 * entries are copies of `gradients`' with their buffers (`slots`) and outputs set.
 */
export function compileUpdateStep(gradients: CompiledTrainStep, optimizerName: 'sgd' | 'adam', groups: number): CompiledTrainStep {
  const optimizer = optimizers[optimizerName];
  if (gradients.config.update !== false) throw new FastvisionError('BAD_OPTION', 'fastvision: compileUpdateStep needs a step compiled with update: false');
  const graph = new TrainGraph();
  const float = onnx.TensorProto.DataType.FLOAT;
  const inputs: ValueInfoProto[] = [];
  const outputs: ValueInfoProto[] = [];
  const ioIn: IoSpec[] = [];
  const input = (name: string, shape: number[], io: boolean) => {
    inputs.push(info(name, shape, float));
    if (io) ioIn.push({ name, dtype: 'float32', shape });
    return { name, shape };
  };
  const hypers: GroupHypers[] = Array.from({ length: groups }, (_, k) => {
    const h = Object.fromEntries(optimizer.hypers.map((name) => [name, input(`g${k}:${name}`, [], true)]));
    return { ...h, ...optimizer.derive(graph, h, k) };
  });
  const state: StateEntry[] = [];
  for (const source of gradients.state) {
    if (!source.gradient) continue;
    const entry: StateEntry = { ...source, slots: optimizer.slots.map((slot) => ({ input: `${source.key}:${slot}`, output: `${source.key}:${slot}:next` })), output: `${source.key}:next` };
    delete entry.gradient;
    const w = input(entry.key, entry.shape, false);
    const slots = entry.slots!.map((s) => input(s.input, entry.shape, false));
    const g = input(`${entry.key}:grad`, entry.shape, true);
    const next = optimizer.update(graph, w, slots, g, hypers[entry.group]!, entry.decay, `${optimizerName}_${entry.key.replace(/\W/g, '_')}`);
    graph.output(next.w, entry.output!);
    outputs.push(info(entry.output!, entry.shape, float));
    entry.slots!.forEach((slot, k) => {
      graph.output(next.slots[k]!, slot.output);
      outputs.push(info(slot.output, entry.shape, float));
    });
    state.push(entry);
  }
  const bytes = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 16 }],
    producerName: 'fastvision',
    producerVersion: version,
    docString: `${optimizerName} update of ${state.length} weights`,
    graph: { name: 'update_step', node: graph.nodes, initializer: graph.initializers, input: inputs, output: outputs },
  });
  return { bytes, inputs: ioIn, outputs: [], state, config: { ...gradients.config, update: true, optimizer: optimizerName, groups }, nodeCount: graph.nodes.length };
}

function info(name: string, dims: number[], elemType: number): ValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}
