import type * as Ort from 'onnxruntime-node';
import type { CompiledTrainStep } from './spec.js';
import type { TrainState } from './state.js';
import { ortMemoryOptions } from '../../ort/ortRuntime.js';

/** One batch: NHWC float32 images (normalised), and class indices or soft targets; masks for Dropout layers with a rate. */
export interface TrainBatch {
  images: Float32Array | Ort.Tensor;
  /** Class indices (one-hot targets), or `targets` instead. */
  labels?: ArrayLike<number>;
  /** Soft targets `[batch, classes]`, rows summing to 1 (label smoothing, MixUp). */
  targets?: Float32Array;
  /** By Dropout layer name: the kept units scaled by 1/(1 − rate), in the layer output's (ONNX) layout. */
  masks?: Record<string, Float32Array>;
}

/** One layer group's hyper-parameters for a step (fastai's names; `sqrMom` and `eps` are Adam's). */
export interface GroupStepHypers {
  lr: number;
  mom: number;
  wd: number;
  sqrMom?: number;
  eps?: number;
  /** Adam: which step this is for the group's parameters, counting from 1 (default the batch's `step`). */
  step?: number;
}

/** The step's hyper-parameters: one entry per layer group, and (Adam) which step this is, counting from 1. */
export interface StepHypers {
  groups: GroupStepHypers[];
  step?: number;
}

/** The batch's `[N, K]` targets: given, or one-hot rows of its labels. */
function targetsOf(step: CompiledTrainStep, batch: TrainBatch): Float32Array {
  const [n, k] = step.inputs.find((i) => i.name === 'targets')!.shape as [number, number];
  if (batch.targets) {
    if (batch.targets.length !== n * k) throw new Error(`fastvision: the step was compiled for ${n}×${k} targets, got ${batch.targets.length} values`);
    return batch.targets;
  }
  const labels = batch.labels;
  if (!labels || labels.length !== n) throw new Error(`fastvision: the step was compiled for batches of ${n}, got ${labels?.length ?? 0} labels`);
  const onehot = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (!(Number.isInteger(c) && c >= 0 && c < k)) throw new Error(`fastvision: label ${c} of item ${i} is not a class index in [0, ${k})`);
    onehot[i * k + c] = 1;
  }
  return onehot;
}

/** Every scalar input of group `k`, Adam's bias corrections computed here from the step count. */
function hyperFeeds(ort: typeof Ort, step: CompiledTrainStep, hypers: StepHypers): Record<string, Ort.Tensor> {
  const feeds: Record<string, Ort.Tensor> = {};
  const groups = step.config.groups ?? 1;
  if (!step.inputs.some((i) => i.name.startsWith('g0:'))) return feeds; // a gradient step: no optimizer inside
  if (hypers.groups.length !== groups) throw new Error(`fastvision: the step was compiled for ${groups} layer group(s), got hyper-parameters for ${hypers.groups.length}`);
  hypers.groups.forEach((h, k) => {
    const t = h.step ?? hypers.step ?? 1;
    const values: Record<string, number | undefined> = { ...h, stepSize: h.lr / (1 - h.mom ** t), debias2: 1 - (h.sqrMom ?? 0) ** t };
    for (const spec of step.inputs) {
      const prefix = `g${k}:`;
      if (!spec.name.startsWith(prefix)) continue;
      const v = values[spec.name.slice(prefix.length)];
      if (v === undefined) throw new Error(`fastvision: the step needs '${spec.name.slice(prefix.length)}' for layer group ${k}`);
      feeds[spec.name] = new ort.Tensor('float32', Float32Array.of(v), []);
    }
  });
  return feeds;
}

/** What one step returns: the loss, the next state, the gradients when compiled with `outputGradients` (or without the update), the logits with `outputLogits`. */
export interface StepResult {
  loss: number;
  state: TrainState;
  grads: Record<string, Ort.Tensor>;
  /** `[batch, classes]`, row-major. */
  logits?: Float32Array;
}

/**
 * An ONNX Runtime session for a compiled step: every graph optimisation (ORT fuses
 * the transposes around the weight-gradient MatMuls), sequential execution, `threads`
 * intra-op threads, and no memory pattern (see {@link ortMemoryOptions}).
 */
export function createTrainSession(ort: typeof Ort, step: CompiledTrainStep, threads: number): Promise<Ort.InferenceSession> {
  return ort.InferenceSession.create(step.bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', ...ortMemoryOptions });
}


/**
 * Runs one training step: feeds the batch, the hyper-parameters and the state, and
 * returns the new state. The outputs are ORT tensors fed back as they are, so the
 * state does not go through tfjs between steps; a frozen weight keeps its tensor.
 */
export async function trainStepOrt(ort: typeof Ort, session: Ort.InferenceSession, step: CompiledTrainStep, state: TrainState, batch: TrainBatch, hypers: StepHypers, into?: TrainState): Promise<StepResult> {
  const imageSpec = step.inputs.find((i) => i.name === 'image')!;
  const feeds: Record<string, Ort.Tensor> = { ...state };
  feeds.image = batch.images instanceof Float32Array ? new ort.Tensor('float32', batch.images, imageSpec.shape) : batch.images;
  feeds.targets = new ort.Tensor('float32', targetsOf(step, batch), step.inputs.find((i) => i.name === 'targets')!.shape);
  Object.assign(feeds, hyperFeeds(ort, step, hypers));
  for (const spec of step.inputs) {
    if (!spec.name.endsWith(':mask')) continue;
    const mask = batch.masks?.[spec.name.slice(0, -':mask'.length)];
    if (!mask) throw new Error(`fastvision: the step needs a dropout mask '${spec.name}' (${spec.shape.join('×')})`);
    feeds[spec.name] = new ort.Tensor('float32', mask, spec.shape);
  }
  // Outputs written straight into `into`'s buffers (the state before last): no allocation, no copy out of ORT.
  const fetches: Record<string, Ort.Tensor | null> = { loss: null };
  for (const entry of step.state) {
    if (entry.output) fetches[entry.output] = into?.[entry.key] ?? null;
    for (const slot of entry.slots ?? []) fetches[slot.output] = into?.[slot.input] ?? null;
    if (entry.gradient) fetches[entry.gradient] = null;
  }
  for (const o of step.outputs) if (!(o.name in fetches)) fetches[o.name] = null;
  const out = await session.run(feeds, fetches as Ort.InferenceSession.FetchesType);
  const next: TrainState = {};
  const grads: Record<string, Ort.Tensor> = {};
  for (const entry of step.state) {
    next[entry.key] = entry.output ? (into?.[entry.key] ?? out[entry.output]!) : state[entry.key]!;
    for (const slot of entry.slots ?? []) next[slot.input] = into?.[slot.input] ?? out[slot.output]!;
    if (entry.gradient) grads[entry.key] = out[entry.gradient]!;
  }
  return { loss: (out.loss!.data as Float32Array)[0]!, state: next, grads, logits: out.logits?.data as Float32Array | undefined };
}

/**
 * Runs a {@link compileUpdateStep} graph: the optimizer's update of `state` from
 * `grads` (ONNX layout, by state key). Returns the new state; `into` as for
 * {@link trainStepOrt}.
 */
export async function updateStepOrt(ort: typeof Ort, session: Ort.InferenceSession, step: CompiledTrainStep, state: TrainState, grads: Record<string, Float32Array>, hypers: StepHypers, into?: TrainState): Promise<TrainState> {
  const feeds: Record<string, Ort.Tensor> = { ...hyperFeeds(ort, step, hypers) };
  const fetches: Record<string, Ort.Tensor | null> = {};
  for (const entry of step.state) {
    const g = grads[entry.key];
    if (!g) throw new Error(`fastvision: the update needs the gradient of ${entry.key}`);
    feeds[entry.key] = state[entry.key]!;
    feeds[`${entry.key}:grad`] = new ort.Tensor('float32', g, entry.shape);
    fetches[entry.output!] = into?.[entry.key] ?? null;
    for (const slot of entry.slots!) {
      feeds[slot.input] = state[slot.input]!;
      fetches[slot.output] = into?.[slot.input] ?? null;
    }
  }
  const out = await session.run(feeds, fetches as Ort.InferenceSession.FetchesType);
  const next: TrainState = { ...state };
  for (const entry of step.state) {
    next[entry.key] = into?.[entry.key] ?? out[entry.output!]!;
    for (const slot of entry.slots!) next[slot.input] = into?.[slot.input] ?? out[slot.output]!;
  }
  return next;
}
