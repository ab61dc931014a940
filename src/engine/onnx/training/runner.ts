import type * as Ort from 'onnxruntime-node';
import type { CompiledTrainStep } from './spec.js';
import type { TrainState } from './state.js';

/** One batch: NHWC float32 images (normalised) and class indices; masks for Dropout layers with a rate. */
export interface TrainBatch {
  images: Float32Array | Ort.Tensor;
  labels: ArrayLike<number> | BigInt64Array | Ort.Tensor;
  /** By Dropout layer name: the kept units scaled by 1/(1 − rate), in the layer output's (ONNX) layout. */
  masks?: Record<string, Float32Array>;
}

/** The step's scalar hyper-parameters. */
export interface StepHypers {
  lr: number;
  mom: number;
  wd: number;
}

/** What one step returns: the loss, the next state, and the gradients when compiled with `outputGradients`. */
export interface StepResult {
  loss: number;
  state: TrainState;
  grads: Record<string, Ort.Tensor>;
}

/**
 * An ONNX Runtime session for a compiled step: every graph optimisation (ORT fuses
 * the transposes around the weight-gradient MatMuls), sequential execution, `threads`
 * intra-op threads.
 */
export function createTrainSession(ort: typeof Ort, step: CompiledTrainStep, threads: number): Promise<Ort.InferenceSession> {
  return ort.InferenceSession.create(step.bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
}

/**
 * Runs one training step: feeds the batch, the hyper-parameters and the state, and
 * returns the new state. The outputs are ORT tensors fed back as they are, so the
 * state does not go through tfjs between steps; a frozen weight keeps its tensor.
 */
export async function trainStepOrt(ort: typeof Ort, session: Ort.InferenceSession, step: CompiledTrainStep, state: TrainState, batch: TrainBatch, hypers: StepHypers): Promise<StepResult> {
  const { batch: n, height, width } = step.config;
  const imageSpec = step.inputs.find((i) => i.name === 'image')!;
  const feeds: Record<string, Ort.Tensor> = { ...state };
  feeds.image = batch.images instanceof Float32Array ? new ort.Tensor('float32', batch.images, imageSpec.shape) : batch.images;
  if (batch.labels instanceof ort.Tensor) feeds.labels = batch.labels;
  else {
    const labels = batch.labels instanceof BigInt64Array ? batch.labels : BigInt64Array.from(Array.from(batch.labels as ArrayLike<number>, (v) => BigInt(v)));
    if (labels.length !== n) throw new Error(`fastvision: the step was compiled for batches of ${n}, got ${labels.length} labels`);
    feeds.labels = new ort.Tensor('int64', labels, [n]);
  }
  for (const h of ['lr', 'mom', 'wd'] as const) feeds[h] = new ort.Tensor('float32', Float32Array.of(hypers[h]), []);
  for (const spec of step.inputs) {
    if (!spec.name.endsWith(':mask')) continue;
    const mask = batch.masks?.[spec.name.slice(0, -':mask'.length)];
    if (!mask) throw new Error(`fastvision: the step needs a dropout mask '${spec.name}' (${spec.shape.join('×')})`);
    feeds[spec.name] = new ort.Tensor('float32', mask, spec.shape);
  }
  void height;
  void width;
  const out = await session.run(feeds);
  const next: TrainState = {};
  const grads: Record<string, Ort.Tensor> = {};
  for (const entry of step.state) {
    next[entry.key] = entry.output ? out[entry.output]! : state[entry.key]!;
    if (entry.momentum) next[entry.momentum.input] = out[entry.momentum.output]!;
    if (entry.gradient) grads[entry.key] = out[entry.gradient]!;
  }
  return { loss: (out.loss!.data as Float32Array)[0]!, state: next, grads };
}
