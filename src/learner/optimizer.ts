import * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';

/** One layer group's hyper-parameters, as fastai's optimizer `hypers`. */
export interface Hypers {
  lr: number;
  /** β1, the momentum that one-cycle schedules. */
  mom: number;
  /** β2. */
  sqrMom: number;
  eps: number;
  /** Decoupled weight decay. */
  wd: number;
}

/** One layer group's parameters; `noWd` holds those exempt from weight decay (BatchNorm and biases). */
export interface ParamGroup {
  params: tf.Variable[];
  noWd: ReadonlySet<tf.Variable>;
}

interface ParamState {
  gradAvg: tf.Variable;
  sqrAvg: tf.Variable;
  step: number;
}

/** A copy of an optimizer's hypers and state, for saving and for the LR finder to restore. */
export interface OptimizerSnapshot {
  hypers: Hypers[];
  state: Map<tf.Variable, { gradAvg: tf.Tensor; sqrAvg: tf.Tensor; step: number }>;
}

/**
 * fastai's Adam defaults: β1 (`mom`) 0.9, β2 (`sqrMom`) 0.99, eps 1e-5, weight decay 0.01.
 *
 * @example
 * ```ts
 * const opt = new Adam(groups, 1e-3, { ...adamDefaults, wd: 0.1 });
 * ```
 */
export const adamDefaults: Omit<Hypers, 'lr'> = { mom: 0.9, sqrMom: 0.99, eps: 1e-5, wd: 0.01 };

/**
 * fastai's `Adam` (AdamW): per step and parameter, in this order,
 * `p ← p·(1 − lr·wd)` (decoupled, skipped for BatchNorm and bias parameters),
 * `gradAvg ← mom·gradAvg + (1−mom)·g`, `sqrAvg ← sqrMom·sqrAvg + (1−sqrMom)·g²`,
 * `p ← p − lr/(1−mom^t) · gradAvg / (√(sqrAvg/(1−sqrMom^t)) + eps)`.
 * Each layer group has its own hypers; parameters without a gradient (frozen) are skipped.
 *
 * @example
 * ```ts
 * // A Learner makes its own; by hand, one group of every trainable weight:
 * const params = model.trainableWeights.map((w) => w.read() as tf.Variable);
 * const opt = new Adam([{ params, noWd: new Set() }], 1e-3);
 * ```
 */
export class Adam {
  readonly hypers: Hypers[];
  /** Counts {@link clearState} and {@link restore} calls: moments kept elsewhere since an older version are stale. @internal */
  stateVersion = 0;
  private readonly state = new Map<tf.Variable, ParamState>();

  /**
   * @param groups - Parameter groups (one per layer group), with the parameters exempt from weight decay.
   * @param lr - Initial learning rate of every group. Default 1e-3.
   * @param defaults - Other hypers; default {@link adamDefaults}.
   */
  constructor(
    readonly groups: readonly ParamGroup[],
    lr = 1e-3,
    defaults: Partial<Omit<Hypers, 'lr'>> = {},
  ) {
    this.hypers = groups.map(() => ({ ...adamDefaults, ...defaults, lr }));
  }

  /** Sets one hyper-parameter, one value per group. */
  setHyper(name: keyof Hypers, values: readonly number[]): void {
    if (values.length !== this.hypers.length) throw new FastvisionError('BAD_OPTION', `fastvision: ${name} needs ${this.hypers.length} values, got ${values.length}`);
    values.forEach((v, i) => (this.hypers[i]![name] = v));
  }

  /** One update from `grads`, keyed by variable name (as `tf.variableGrads` returns them). */
  step(grads: tf.NamedTensorMap): void {
    this.groups.forEach((group, g) => {
      const { lr, mom, sqrMom, eps, wd } = this.hypers[g]!;
      for (const p of group.params) {
        const grad = grads[p.name];
        if (!grad) continue;
        const s = this.stateOf(p);
        s.step++;
        const debias1 = 1 - mom ** s.step;
        const debias2 = 1 - sqrMom ** s.step;
        tf.tidy(() => {
          const decayed = wd !== 0 && !group.noWd.has(p) ? tf.mul(p, 1 - lr * wd) : p;
          const gradAvg = tf.add(tf.mul(s.gradAvg, mom), tf.mul(grad, 1 - mom));
          const sqrAvg = tf.add(tf.mul(s.sqrAvg, sqrMom), tf.mul(tf.square(grad), 1 - sqrMom));
          const update = tf.div(gradAvg, tf.add(tf.sqrt(tf.div(sqrAvg, debias2)), eps));
          s.gradAvg.assign(gradAvg);
          s.sqrAvg.assign(sqrAvg);
          p.assign(tf.sub(decayed, tf.mul(update, lr / debias1)));
        });
      }
    });
  }

  /** A parameter's moments and step count, undefined before its first step (for an engine that steps elsewhere). @internal */
  momentsOf(p: tf.Variable): { readonly gradAvg: tf.Tensor; readonly sqrAvg: tf.Tensor; readonly step: number } | undefined {
    return this.state.get(p);
  }

  /** Takes back a parameter's moments (copied: the caller keeps and frees its tensors) and step count from an engine that stepped elsewhere. @internal */
  setMoments(p: tf.Variable, gradAvg: tf.Tensor, sqrAvg: tf.Tensor, step: number): void {
    const s = this.stateOf(p);
    s.gradAvg.assign(gradAvg);
    s.sqrAvg.assign(sqrAvg);
    s.step = step;
  }

  /** Forgets the moments (fastai's `clear_state`), as freezing and unfreezing do. */
  clearState(): void {
    this.stateVersion++;
    for (const s of this.state.values()) tf.dispose([s.gradAvg, s.sqrAvg]);
    this.state.clear();
  }

  snapshot(): OptimizerSnapshot {
    const state = new Map<tf.Variable, { gradAvg: tf.Tensor; sqrAvg: tf.Tensor; step: number }>();
    for (const [p, s] of this.state) state.set(p, { gradAvg: tf.clone(s.gradAvg), sqrAvg: tf.clone(s.sqrAvg), step: s.step });
    return { hypers: this.hypers.map((h) => ({ ...h })), state };
  }

  /** Puts a snapshot back and disposes it. */
  restore(snap: OptimizerSnapshot): void {
    this.clearState(); // (a new state version)
    snap.hypers.forEach((h, i) => Object.assign(this.hypers[i]!, h));
    for (const [p, s] of snap.state) {
      this.state.set(p, { gradAvg: tf.variable(s.gradAvg, false), sqrAvg: tf.variable(s.sqrAvg, false), step: s.step });
      tf.dispose([s.gradAvg, s.sqrAvg]);
    }
  }

  dispose(): void {
    this.clearState();
  }

  private stateOf(p: tf.Variable): ParamState {
    let s = this.state.get(p);
    if (!s) {
      // Inside tidy: the zeros are freed, the variables (which share their data) are kept.
      s = tf.tidy(() => ({ gradAvg: tf.variable(tf.zerosLike(p), false), sqrAvg: tf.variable(tf.zerosLike(p), false), step: 0 }));
      this.state.set(p, s);
    }
    return s;
  }
}
