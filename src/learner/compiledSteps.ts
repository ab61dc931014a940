import * as tf from '../core/tf.js';
import { backendInfo } from '../engine/backend.js';
import { ortRuntime } from '../engine/ort/ortRuntime.js';
import { convertLayout, variableOf } from '../engine/onnx/training/index.js';
import { OrtTrainer, type StepPlan } from '../engine/ort/ortTrainer.js';
import { hasLayerOverride } from '../engine/tfjs/layerOverrides.js';
import type { Callback, EventName } from './callback.js';
import type { Learner } from './learner.js';

/**
 * The events a compiled step fires around a *split* step: the loss, the gradients (and,
 * when a callback handles `afterPred`, the logits) come out of one graph, callbacks see
 * them as tfjs tensors (`learn.pred`, `learn.loss`, `learn.grads`) in fastai's order,
 * and a second graph applies the optimizer. Callbacks may read `learn.pred`; replacing
 * it cannot change a loss already computed, so the fit goes on on tfjs (see
 * {@link CompiledSteps.abandon}). `afterLoss` and `beforeBackward` may only rescale
 * `lossGrad` (as GradientAccumulation does): the gradients are scaled by the same factor.
 */
const aroundGradients: readonly EventName[] = ['afterPred', 'afterLoss', 'beforeBackward', 'afterCancelBackward', 'afterBackward', 'beforeStep', 'afterCancelStep'];

/**
 * The Learner's side of a training step compiled to ONNX and run on ONNX Runtime
 * (`backendInfo().training.engine === 'ort'`): per epoch, whether this fit can use it
 * (else one line says why, and the tfjs step runs); per batch, the step itself with
 * the optimizer's current hypers; at the end of an epoch, the weights back to tfjs
 * (validation, callbacks and exports read them there); at the end of a fit, the
 * optimizer's moments back to the learner's Adam.
 */
export class CompiledSteps {
  private trainer: OrtTrainer | undefined;
  private plan: { key: string; plan: StepPlan } | undefined;
  private readonly said = new Set<string>();
  /** Nets a compile refused (a layer with no backward pass yet), with why. */
  private readonly refused = new WeakMap<tf.LayersModel, string>();
  /** Callbacks that replaced `learn.pred` in `afterPred`: a fit with one of them trains on tfjs. */
  private readonly predWriters = new WeakSet<Callback>();

  constructor(private readonly learn: Learner) {}

  /**
   * Whether this epoch's training batches of `net` run compiled; says why not once per
   * reason (unless the fit is quiet).
   */
  usable(net: tf.LayersModel): boolean {
    if (backendInfo().training.engine !== 'ort') return false;
    const why = this.whyNot(net);
    if (why === undefined) return true;
    const line = `fastvision: this fit trains on tfjs-${tf.getBackend()}, not ONNX Runtime: ${why}`;
    if (!this.said.has(line) && !this.learn.quiet) this.learn.logger(line);
    this.said.add(line);
    return false;
  }

  /** Whether this fit's callbacks need the step's events between forward and update (a split step). */
  get split(): boolean {
    return this.learn.callbacks.some((cb) => cb.runTrain && aroundGradients.some((e) => typeof (cb as Callback)[e] === 'function'));
  }

  /** The training callbacks that handle `afterPred` (they get the logits as `learn.pred`). */
  private get predReaders(): Callback[] {
    return this.learn.callbacks.filter((cb) => cb.runTrain && typeof cb.afterPred === 'function');
  }

  /** One fused training step on the learner's batch; returns the loss, or undefined when the net turned out not to compile (the tfjs step runs). */
  async step(net: tf.LayersModel, xb: tf.Tensor, yb: tf.Tensor): Promise<number | undefined> {
    const trainer = await this.ready(net, xb, false);
    if (!trainer) return undefined;
    return trainer.step(await this.batchOf(net, xb, yb), this.hypers());
  }

  /**
   * A split step's first half: the loss, and the gradients as tfjs tensors keyed by
   * variable name (the caller owns them); undefined when the net does not compile.
   */
  async gradients(net: tf.LayersModel, xb: tf.Tensor, yb: tf.Tensor): Promise<{ loss: number; grads: tf.NamedTensorMap; pred?: tf.Tensor } | undefined> {
    const trainer = await this.ready(net, xb, true);
    if (!trainer) return undefined;
    const { loss, grads, logits } = await trainer.gradients(await this.batchOf(net, xb, yb));
    const named: tf.NamedTensorMap = {};
    for (const entry of trainer.entries) {
      const g = grads[entry.key];
      if (g) named[(variableOf(net, entry).read() as tf.Variable).name] = tf.tensor(convertLayout(entry, g, false), entry.kerasShape, 'float32');
    }
    const pred = logits && tf.tensor2d(logits, [xb.shape[0], logits.length / xb.shape[0]]);
    return { loss, grads: named, pred };
  }

  /**
   * A callback replaced `learn.pred` after the split step's first graph ran: its loss
   * and gradients no longer follow. Takes back that graph's BatchNorm statistics, hands
   * the weights and moments to tfjs (which trains this batch and the rest of the fit),
   * and says why, once.
   */
  abandon(net: tf.LayersModel): void {
    for (const cb of this.predReaders) this.predWriters.add(cb);
    this.trainer?.revertGradients();
    this.trainer?.handBack(this.learn.opt);
    this.usable(net);
  }

  /** A split step's second half: the optimizer's update from `grads` (keyed by variable name, as `learn.grads`). */
  async applyGradients(net: tf.LayersModel, grads: tf.NamedTensorMap): Promise<void> {
    const trainer = this.trainer!;
    const byKey: Record<string, Float32Array> = {};
    for (const entry of trainer.entries) {
      if (!entry.slots) continue;
      const g = grads[(variableOf(net, entry).read() as tf.Variable).name];
      if (!g) throw new Error(`fastvision: no gradient for ${entry.key} to apply`);
      byKey[entry.key] = convertLayout(entry, (await g.data()) as Float32Array, true);
    }
    await trainer.applyGradients(byKey, this.hypers());
  }

  /** The trainer, ready with the step for this batch; undefined (having said why) when the net does not compile. */
  private async ready(net: tf.LayersModel, xb: tf.Tensor, split: boolean): Promise<OrtTrainer | undefined> {
    const trainer = this.trainerFor(net);
    try {
      await trainer.use(this.planFor(net, xb, split), this.learn.opt);
      return trainer;
    } catch (err) {
      this.refused.set(net, (err as Error).message.replace(/^fastvision: /, ''));
      await this.release();
      this.usable(net); // says why, once
      return undefined;
    }
  }

  private async batchOf(net: tf.LayersModel, xb: tf.Tensor, yb: tf.Tensor): Promise<{ images: Float32Array; targets: Float32Array }> {
    const classes = net.outputs[0]!.shape.at(-1) as number;
    const loss = this.learn.lossFunc;
    const targets = loss.softTargets ? loss.softTargets(yb, classes) : loss.sigmoidTargets!(yb, classes);
    try {
      const [images, soft] = await Promise.all([xb.data() as Promise<Float32Array>, targets.data() as Promise<Float32Array>]);
      return { images, targets: soft };
    } finally {
      targets.dispose();
    }
  }

  private hypers() {
    return this.learn.opt.hypers.map((h) => ({ lr: h.lr, mom: h.mom, wd: h.wd, sqrMom: h.sqrMom, eps: h.eps }));
  }

  /** Forgets the last step's update (its loss was not finite). */
  undoLastStep(): void {
    this.trainer?.undoLastStep();
  }

  /** The epoch's training is over: tfjs gets the weights (one copy). */
  endEpoch(): void {
    this.trainer?.syncWeights();
  }

  /** The fit is over: tfjs gets the weights and the Adam moments; ORT's copies are let go. */
  endFit(): void {
    this.trainer?.handBack(this.learn.opt);
  }

  /** Bytes the last compiled step fed to ONNX Runtime and read back. */
  get lastStepBytes(): { in: number; out: number } | undefined {
    return this.trainer?.lastStepBytes;
  }

  async release(): Promise<void> {
    const t = this.trainer;
    this.trainer = undefined;
    this.plan = undefined;
    await t?.dispose();
  }

  private whyNot(net: tf.LayersModel): string | undefined {
    const refused = this.refused.get(net);
    if (refused) return refused;
    const loss = this.learn.lossFunc;
    if (!loss.softTargets && !loss.sigmoidTargets) return `the loss '${loss.name}' has no compiled form (cross-entropy, label smoothing, BCE-with-logits and MixUp have)`;
    if (net.outputs.length !== 1 || net.outputs[0]!.shape.length !== 2) return 'the model does not output [batch, classes] logits';
    const writer = this.learn.callbacks.find((cb) => this.predWriters.has(cb));
    if (writer) return `${writer.constructor.name} replaces learn.pred in afterPred, and the compiled step's loss and gradients cannot follow it`;
    return undefined;
  }

  private trainerFor(net: tf.LayersModel): OrtTrainer {
    if (this.trainer?.model !== net) {
      void this.trainer?.dispose();
      const ort = ortRuntime();
      if (!ort.ok) throw new Error(ort.reason);
      this.trainer = new OrtTrainer(ort.ort, net, backendInfo().training.threads ?? 1);
      this.plan = undefined;
    }
    return this.trainer;
  }

  /** What to compile for: the batch's shape, the layers that train now, their groups, BatchNorms that BnFreeze runs in inference mode. */
  private planFor(net: tf.LayersModel, xb: tf.Tensor, split: boolean): StepPlan {
    const trainableVars = new Set(this.learn.trainableVariables());
    const groupIndex = new Map<string, number>();
    this.learn.layerGroups.forEach((layers, g) => layers.forEach((l) => groupIndex.set(l.name, g)));
    const trainable = new Set<string>();
    const bnInference = new Set<string>();
    for (const layer of net.layers) {
      if (layer.trainableWeights.some((w) => trainableVars.has(w.read() as tf.Variable))) trainable.add(layer.name);
      if (layer.getClassName() === 'BatchNormalization' && hasLayerOverride(layer, 'mode')) bnInference.add(layer.name);
    }
    const [batch, height, width] = xb.shape as [number, number, number];
    const logits = split && this.predReaders.length > 0;
    const key = JSON.stringify([xb.shape, [...trainable], [...bnInference], split, logits, Boolean(this.learn.lossFunc.softTargets)]);
    if (this.plan?.key === key) return this.plan.plan;
    const plan: StepPlan = { batch, height, width, trainable, bnInference, groups: this.learn.nGroups, groupOf: (name) => groupIndex.get(name) ?? this.learn.nGroups - 1, split, logits, loss: this.learn.lossFunc.softTargets ? 'crossEntropy' : 'bceWithLogits' };
    this.plan = { key, plan };
    return plan;
  }
}
