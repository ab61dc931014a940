import type * as Ort from 'onnxruntime-node';
import * as tf from '../../../core/tf.js';
import { variableOf, type CompiledTrainStep, type StateEntry } from './spec.js';

/** The step's persistent tensors (weights, momenta, running statistics) by graph input name, kept as ORT tensors between steps. */
export type TrainState = Record<string, Ort.Tensor>;

/**
 * Keras `[kh, kw, in, out]` ↔ ONNX `[out, in, kh, kw]`; `toOnnx` false goes back. A
 * depthwise kernel `[kh, kw, C, m]` has the memory of `[kh, kw, 1, C·m]` (as the
 * inference exporter's onnxConvKernel reads it).
 */
export function convertLayout(entry: StateEntry, values: Float32Array, toOnnx: boolean): Float32Array {
  if (entry.layout === 'plain') return values;
  const [kh, kw, c, m] = entry.kerasShape as [number, number, number, number];
  const [cin, cout] = entry.layout === 'depthwise' ? [1, c * m] : [c, m];
  const out = new Float32Array(values.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let ci = 0; ci < cin; ci++)
        for (let co = 0; co < cout; co++) {
          const keras = ((i * kw + j) * cin + ci) * cout + co;
          const onnx = ((co * cin + ci) * kh + i) * kw + j;
          if (toOnnx) out[onnx] = values[keras]!;
          else out[keras] = values[onnx]!;
        }
  return out;
}

/**
 * The state a compiled step starts from: the model's weights and running statistics
 * as they are now (in ONNX layout), and zero optimizer buffers (a fresh optimizer).
 */
export function initialTrainState(ort: typeof Ort, model: tf.LayersModel, step: CompiledTrainStep): TrainState {
  const state: TrainState = {};
  for (const entry of step.state) {
    const values = convertLayout(entry, variableOf(model, entry).read().dataSync() as Float32Array, true);
    state[entry.key] = new ort.Tensor('float32', values.slice(), entry.shape);
    for (const slot of entry.slots ?? []) state[slot.input] = new ort.Tensor('float32', new Float32Array(values.length), entry.shape);
  }
  return state;
}

/** Writes the state's weights and running statistics back into the tfjs model (the optimizer's buffers stay in the state). */
export function writeTrainState(model: tf.LayersModel, step: CompiledTrainStep, state: TrainState): void {
  for (const entry of step.state) {
    if (!entry.output) continue;
    const values = convertLayout(entry, state[entry.key]!.data as Float32Array, false);
    const t = tf.tensor(values, entry.kerasShape, 'float32');
    variableOf(model, entry).write(t);
    t.dispose();
  }
}
