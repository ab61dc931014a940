import type * as Ort from 'onnxruntime-node';
import * as tf from '../../core/tf.js';
import { compileTrainStep, compileUpdateStep, convertLayout, createTrainSession, trainStepOrt, updateStepOrt, variableOf, writeTrainState, type CompiledTrainStep, type GroupStepHypers, type StateEntry, type TrainBatch, type TrainState } from '../onnx/training/index.js';

/** What a training step is compiled for: one per batch shape, set of trainable layers and layer grouping. */
export interface StepPlan {
  batch: number;
  height: number;
  width: number;
  /** Layers whose weights train. */
  trainable: ReadonlySet<string>;
  /** BatchNorm layers in inference mode (BnFreeze). */
  bnInference: ReadonlySet<string>;
  /** Each layer's group; `groups` of them. */
  groupOf: (layer: string) => number;
  groups: number;
  /** The loss the graph computes from the batch's targets. */
  loss: 'crossEntropy' | 'bceWithLogits';
  /** Two graphs: gradients out (callbacks may read and change them), then the optimizer's update from gradients in. */
  split: boolean;
  /** The gradient graph also outputs the logits (a callback reads `learn.pred` in `afterPred`). */
  logits?: boolean;
}

/** Where the optimizer's state lives between fits (fastvision's Adam): moments by variable, and step counts. */
export interface MomentStore {
  /** Changes whenever the store's moments are cleared or replaced (fastai's `clear_state` on freeze/unfreeze). */
  readonly stateVersion: number;
  momentsOf(p: tf.Variable): { readonly gradAvg: tf.Tensor; readonly sqrAvg: tf.Tensor; readonly step: number } | undefined;
  setMoments(p: tf.Variable, gradAvg: tf.Tensor, sqrAvg: tf.Tensor, step: number): void;
}

/** Counts since the process started: compiled steps run, graphs compiled (for tests and `fastvision info`-style diagnostics). */
export const compiledStepStats = { steps: 0, compiles: 0 };

interface Compiled {
  step: CompiledTrainStep;
  session: Ort.InferenceSession;
  /** A split plan's update graph. */
  update?: { step: CompiledTrainStep; session: Ort.InferenceSession };
  /** Every state entry, with its optimizer buffers (from the update graph when split). */
  entries: StateEntry[];
}

/**
 * Trains one tfjs model with its step compiled to ONNX and run on ONNX Runtime. The
 * weights, BatchNorm statistics and Adam moments live in ORT tensors between steps
 * (two sets, written into alternately); tfjs gets the weights back at {@link syncWeights}
 * (once per epoch, for validation) and the moments at {@link syncOptimizer} (when the
 * fit ends). A step reads from tfjs only what changed there since (a callback or the
 * LR finder writing weights).
 */
export class OrtTrainer {
  private readonly compiled = new Map<string, Compiled>();
  private current: Compiled | undefined;
  private state: TrainState | undefined;
  private spare: TrainState | undefined;
  /** Each group's Adam step count. */
  private steps: number[] = [];
  /** The moment store's version the moments here were taken from. */
  private momentsVersion = 0;
  /** The tfjs tensor each state entry was read from or written to: another one there means tfjs changed it. */
  private readonly seen = new Map<string, unknown>();
  /** The state before the last {@link gradients} call updated its BatchNorm statistics (see {@link revertGradients}). */
  private beforeGradients: TrainState | undefined;
  /** Bytes fed to and read from ORT by the last step, for the performance notes. */
  lastStepBytes = { in: 0, out: 0 };

  constructor(
    private readonly ort: typeof Ort,
    readonly model: tf.LayersModel,
    private readonly threads: number,
  ) {}

  /**
   * Selects (compiling on first use, ~1 s for ResNet-18) the step for `plan`, and takes
   * the weights and moments from tfjs when this trainer holds none yet. A change of plan
   * first hands the state back to tfjs.
   */
  async use(plan: StepPlan, moments: MomentStore): Promise<void> {
    const key = planKey(plan);
    let next = this.compiled.get(key);
    if (next === this.current && this.state) return;
    if (this.current && this.state) this.handBack(moments);
    if (!next) {
      const step = compileTrainStep(this.model, {
        batch: plan.batch,
        height: plan.height,
        width: plan.width,
        loss: plan.loss,
        optimizer: 'adam',
        trainable: (name) => plan.trainable.has(name),
        bnInference: (name) => plan.bnInference.has(name),
        groups: plan.groups,
        groupOf: plan.groupOf,
        update: !plan.split,
        outputLogits: plan.split && plan.logits,
      });
      const session = await createTrainSession(this.ort, step, this.threads);
      if (plan.split) {
        const updateStep = compileUpdateStep(step, 'adam', plan.groups);
        const updated = new Map(updateStep.state.map((e) => [e.key, e]));
        const entries = step.state.map((e) => updated.get(e.key) ?? e);
        next = { step, session, update: { step: updateStep, session: await createTrainSession(this.ort, updateStep, this.threads) }, entries };
      } else next = { step, session, entries: step.state };
      compiledStepStats.compiles++;
      this.compiled.set(key, next);
    }
    this.current = next;
    this.takeFromTfjs(moments);
  }

  /** One step on `batch` with each group's hypers; returns the loss. */
  async step(batch: TrainBatch, groups: Omit<GroupStepHypers, 'step'>[]): Promise<number> {
    const { step, session } = this.current!;
    this.refreshChanged();
    const hypers = groups.map((h, g) => ({ ...h, step: this.steps[g]! + 1 }));
    const into = this.spare;
    const masks = batch.masks ?? this.dropoutMasks(step);
    const result = await trainStepOrt(this.ort, session, step, this.state!, { ...batch, masks }, { groups: hypers }, into);
    this.spare = this.state;
    this.state = result.state;
    this.steps = this.steps.map((t) => t + 1);
    compiledStepStats.steps++;
    this.lastStepBytes = { in: stepBytes(step, 'in'), out: stepBytes(step, 'out') };
    return result.loss;
  }

  /**
   * A split plan's first graph: the loss and every trainable weight's gradient (ONNX
   * layout, by state key); the BatchNorm statistics update, the weights do not.
   */
  async gradients(batch: TrainBatch): Promise<{ loss: number; grads: Record<string, Float32Array>; logits?: Float32Array }> {
    const { step, session } = this.current!;
    this.refreshChanged();
    const masks = batch.masks ?? this.dropoutMasks(step);
    const result = await trainStepOrt(this.ort, session, step, this.state!, { ...batch, masks }, { groups: [] });
    this.beforeGradients = this.state;
    this.state = { ...this.state, ...result.state }; // new BatchNorm statistics; the optimizer's buffers are not the gradient graph's
    compiledStepStats.steps++;
    return { loss: result.loss, grads: Object.fromEntries(Object.entries(result.grads).map(([k, t]) => [k, t.data as Float32Array])), logits: result.logits };
  }

  /** Takes back the BatchNorm statistics the last {@link gradients} call updated: its batch is to be trained elsewhere. */
  revertGradients(): void {
    if (this.beforeGradients) this.state = this.beforeGradients;
    this.beforeGradients = undefined;
  }

  /** A split plan's second graph: the optimizer's update from `grads` (ONNX layout, by state key). */
  async applyGradients(grads: Record<string, Float32Array>, groups: Omit<GroupStepHypers, 'step'>[]): Promise<void> {
    const update = this.current!.update!;
    const hypers = groups.map((h, g) => ({ ...h, step: this.steps[g]! + 1 }));
    const next = await updateStepOrt(this.ort, update.session, update.step, this.state!, grads, { groups: hypers }, this.spare);
    this.spare = { ...next };
    for (const e of update.step.state) {
      this.spare[e.key] = this.state![e.key]!;
      for (const slot of e.slots!) this.spare[slot.input] = this.state![slot.input]!;
    }
    this.state = next;
    this.beforeGradients = undefined;
    this.steps = this.steps.map((t) => t + 1);
  }

  /** The state entries of the current step (with optimizer buffers). */
  get entries(): readonly StateEntry[] {
    return this.current?.entries ?? [];
  }

  /** Goes back to the state before the last step (its loss was not finite: the fit stops without its update, as on tfjs). */
  undoLastStep(): void {
    if (!this.state || !this.spare) return;
    [this.state, this.spare] = [this.spare, this.state];
    this.steps = this.steps.map((t) => t - 1);
  }

  /** A fresh mask per Dropout layer with a rate, as tfjs's dropout draws one: kept units scaled by 1/(1 − rate). */
  private dropoutMasks(step: CompiledTrainStep): Record<string, Float32Array> {
    const masks: Record<string, Float32Array> = {};
    for (const spec of step.inputs) {
      if (!spec.name.endsWith(':mask')) continue;
      const layer = spec.name.slice(0, -':mask'.length);
      const rate = this.model.getLayer(layer).getConfig().rate as number;
      const mask = new Float32Array(size(spec.shape));
      const kept = 1 / (1 - rate);
      for (let i = 0; i < mask.length; i++) mask[i] = Math.random() >= rate ? kept : 0;
      masks[layer] = mask;
    }
    return masks;
  }

  /** Writes the weights and BatchNorm statistics into the tfjs model (the moments stay here). */
  syncWeights(): void {
    if (!this.current || !this.state) return;
    writeTrainState(this.model, { ...this.current.step, state: this.current.entries }, this.state);
    for (const entry of this.current.entries) this.seen.set(entry.key, dataIdOf(this.model, entry));
  }

  /** Writes the weights and the moments back to tfjs, and lets go of the state (the next {@link use} reads tfjs again). */
  handBack(moments: MomentStore): void {
    if (!this.current || !this.state) return;
    this.syncWeights();
    // Cleared meanwhile (a callback froze or unfroze in the middle of the fit): these moments are stale.
    const stale = moments.stateVersion !== this.momentsVersion;
    for (const entry of this.current.entries) {
      if (!entry.slots || stale) continue;
      const [avg, sqr] = entry.slots.map((s) => tf.tensor(convertLayout(entry, this.state![s.input]!.data as Float32Array, false), entry.kerasShape, 'float32'));
      moments.setMoments(variableOf(this.model, entry).read() as tf.Variable, avg!, sqr!, this.steps[entry.group]!);
      tf.dispose([avg!, sqr!]);
    }
    this.state = this.spare = this.beforeGradients = undefined;
  }

  async dispose(): Promise<void> {
    this.state = this.spare = undefined;
    this.current = undefined;
    const sessions = [...this.compiled.values()].flatMap((c) => [c.session, ...(c.update ? [c.update.session] : [])]);
    this.compiled.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }

  /** The state from tfjs: weights, statistics, and Adam's moments and step counts (all of a group's parameters share one). */
  private takeFromTfjs(moments: MomentStore): void {
    const { step, entries } = this.current!;
    const state: TrainState = {};
    const steps: (number | undefined)[] = [];
    this.momentsVersion = moments.stateVersion;
    for (const entry of entries) {
      state[entry.key] = this.readWeight(entry);
      if (!entry.slots) continue;
      const m = moments.momentsOf(variableOf(this.model, entry).read() as tf.Variable);
      const t = m?.step ?? 0;
      if (steps[entry.group] !== undefined && steps[entry.group] !== t) {
        throw new Error(`the optimizer's parameters in layer group ${entry.group} have taken different numbers of steps (${steps[entry.group]} and ${t}); one compiled step updates them together`);
      }
      steps[entry.group] = t;
      const [avg, sqr] = m ? [m.gradAvg, m.sqrAvg].map((x) => convertLayout(entry, x.dataSync() as Float32Array, true)) : [undefined, undefined];
      entry.slots.forEach((slot, k) => {
        state[slot.input] = new this.ort.Tensor('float32', (k === 0 ? avg : sqr) ?? new Float32Array(size(entry.shape)), entry.shape);
      });
    }
    this.state = state;
    this.spare = cloneState(this.ort, state);
    this.steps = Array.from({ length: step.config.groups ?? 1 }, (_, g) => steps[g] ?? 0);
  }

  /** Weights tfjs changed since they were last read or written here are read again. */
  private refreshChanged(): void {
    for (const entry of this.current!.entries) {
      if (this.seen.get(entry.key) === dataIdOf(this.model, entry)) continue;
      const fresh = this.readWeight(entry);
      this.state![entry.key] = fresh;
      this.spare![entry.key] = new this.ort.Tensor('float32', new Float32Array(fresh.data as Float32Array), entry.shape);
    }
  }

  private readWeight(entry: StateEntry): Ort.Tensor {
    const values = convertLayout(entry, variableOf(this.model, entry).read().dataSync() as Float32Array, true);
    this.seen.set(entry.key, dataIdOf(this.model, entry));
    return new this.ort.Tensor('float32', entry.layout === 'plain' ? values.slice() : values, entry.shape);
  }
}

function planKey(plan: StepPlan): string {
  const groups = [...plan.trainable].sort().map((n) => `${n}:${plan.groupOf(n)}`);
  return JSON.stringify([plan.batch, plan.height, plan.width, plan.groups, groups, [...plan.bnInference].sort(), plan.split, plan.loss, Boolean(plan.logits)]);
}

function dataIdOf(model: tf.LayersModel, entry: StateEntry): unknown {
  return (variableOf(model, entry).read() as unknown as { dataId: unknown }).dataId;
}

function cloneState(ort: typeof Ort, state: TrainState): TrainState {
  return Object.fromEntries(Object.entries(state).map(([k, t]) => [k, new ort.Tensor('float32', new Float32Array(t.data as Float32Array), t.dims)]));
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Bytes of a step's inputs (`in`: batch, hypers and state) or outputs (`out`: the new state and the loss). */
function stepBytes(step: CompiledTrainStep, which: 'in' | 'out'): number {
  const io = which === 'in' ? step.inputs : step.outputs;
  let n = io.reduce((s, i) => s + size(i.shape) * (i.dtype === 'int64' ? 8 : 4), 0);
  for (const e of step.state) {
    const entries = which === 'in' ? 1 + (e.slots?.length ?? 0) : (e.output ? 1 : 0) + (e.slots?.length ?? 0);
    n += entries * size(e.shape) * 4;
  }
  return n;
}
