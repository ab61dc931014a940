import * as tf from '../core/tf.js';
import seedrandom from 'seedrandom';
import { FastvisionError } from '../core/errors.js';
import { Callback } from './callback.js';
import type { LossFunc } from './losses.js';

/** A Beta(α, α) sampler (from two Gammas, Marsaglia–Tsang), seeded. */
function betaSampler(alpha: number, rng: () => number): () => number {
  const normal = () => {
    // Box–Muller
    const u = 1 - rng();
    const v = rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const gamma = (k: number): number => {
    if (k < 1) return gamma(k + 1) * rng() ** (1 / k);
    const d = k - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v = (1 + c * x) ** 3;
      if (v <= 0) continue;
      const u = rng();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  return () => {
    const a = gamma(alpha);
    const b = gamma(alpha);
    return a / (a + b);
  };
}

/**
 * fastai's `MixHandler`: for single-label data the loss becomes
 * `lerp(loss(pred, yShuffled), loss(pred, y), λ)` during training (the learner's loss
 * is swapped for the fit and put back after it, however it ends); for multi-label
 * data the targets themselves are mixed.
 */
abstract class MixHandler extends Callback {
  override runValid = false;
  /** The mixing weights of the current batch: one per item (MixUp) or one for all (CutMix). */
  lam: tf.Tensor | undefined;
  protected yb1: tf.Tensor | undefined;
  protected readonly sample: () => number;
  protected readonly rng: () => number;
  private oldLoss: LossFunc | undefined;
  private stackY = false;

  constructor(alpha: number, seed: number | undefined) {
    super();
    if (!(alpha > 0)) throw new FastvisionError('BAD_OPTION', `${new.target.name} alpha must be > 0, got ${alpha}`);
    this.rng = seedrandom(String(seed ?? Math.random()));
    this.sample = betaSampler(alpha, this.rng);
  }

  override beforeTrain(): void {
    this.stackY = !this.learn.dls.multiLabel;
    if (!this.stackY) return;
    this.oldLoss = this.learn.lossFunc;
    const old = this.oldLoss;
    const mixed = (pred: tf.Tensor, targ: tf.Tensor, reduction: 'mean' | 'none' = 'mean') =>
      tf.tidy(() => {
        if (!this.learn.training || !this.yb1 || !this.lam) return old(pred, targ, reduction);
        const a = old(pred, this.yb1, 'none');
        const b = old(pred, targ, 'none');
        const perItem = tf.add(a, tf.mul(tf.sub(b, a), this.lam));
        return reduction === 'mean' ? tf.mean(perItem) : perItem;
      });
    // Linear in the per-item losses, so cross-entropy kinds mix their targets the same way.
    const softTargets = old.softTargets
      ? (targ: tf.Tensor, c: number) =>
          tf.tidy(() => {
            const b = old.softTargets!(targ, c);
            if (!this.learn.training || !this.yb1 || !this.lam) return b;
            const a = old.softTargets!(this.yb1, c);
            return tf.add(a, tf.mul(tf.sub(b, a), this.lam.reshape([-1, 1]))) as tf.Tensor2D;
          })
      : undefined;
    this.learn.lossFunc = Object.assign(mixed, { activation: old.activation, decodes: old.decodes }, softTargets ? { softTargets } : {}) as LossFunc;
  }

  override afterTrain(): void {
    if (this.oldLoss) this.learn.lossFunc = this.oldLoss;
    this.oldLoss = undefined;
  }

  override afterBatch(): void {
    tf.dispose([this.lam, this.yb1].filter((t): t is tf.Tensor => t !== undefined));
    this.lam = this.yb1 = undefined;
  }

  /** A permutation of the batch's items, from the seeded generator. */
  protected shuffle(n: number): tf.Tensor1D {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.rng() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return tf.tensor1d(order, 'int32');
  }

  /** Multi-label: targets mixed as the inputs were. */
  protected mixTargets(): void {
    if (this.stackY) return;
    const yb = this.learn.yb!;
    const lam = this.lam!.size === 1 ? this.lam! : this.lam!.reshape([-1, ...yb.shape.slice(1).map(() => 1)]);
    this.learn.yb = tf.tidy(() => tf.add(this.yb1!, tf.mul(tf.sub(yb, this.yb1!), lam)));
  }
}

/**
 * fastai's `MixUp(alpha=0.4)`: each training batch becomes `lerp(x[shuffled], x, λ)`
 * with one λ per item drawn from Beta(α, α) and folded to `max(λ, 1 − λ)` (so the
 * original item dominates), and the loss (or, multi-label, the target) is mixed the
 * same way. Validation is untouched.
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(5, 1e-3, { cbs: [new MixUp()] });
 * ```
 */
export class MixUp extends MixHandler {
  /**
   * @param alpha - Beta(α, α)'s parameter. Default 0.4 (fastai's).
   * @param seed - Seeds λ and the shuffles, for reproducible runs.
   */
  constructor(alpha = 0.4, seed?: number) {
    super(alpha, seed);
  }

  override beforeBatch(): void {
    const xb = this.learn.xb!;
    const n = xb.shape[0]!;
    const lams = Array.from({ length: n }, () => {
      const l = this.sample();
      return Math.max(l, 1 - l);
    });
    const shuffle = this.shuffle(n);
    this.lam = tf.tensor1d(lams);
    this.yb1 = tf.gather(this.learn.yb!, shuffle);
    const lam = this.lam.reshape([n, ...xb.shape.slice(1).map(() => 1)]);
    this.learn.xb = tf.tidy(() => {
      const xb1 = tf.gather(xb, shuffle);
      return tf.add(xb1, tf.mul(tf.sub(xb, xb1), lam));
    });
    tf.dispose([shuffle, lam]);
    this.mixTargets();
  }
}

/**
 * fastai's `CutMix(alpha=1.0)`: a box of each training image is replaced by the same
 * box of another image of the batch; λ (drawn from Beta(α, α)) sets the box's area,
 * and the loss (or, multi-label, the target) is weighted by the share of the image
 * left: `λ = 1 − box area / image area`.
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(5, 1e-3, { cbs: [new CutMix()] });
 * ```
 */
export class CutMix extends MixHandler {
  /** The last box, `[x1, y1, x2, y2]` in pixels (for tests and pictures). */
  box: [number, number, number, number] = [0, 0, 0, 0];

  /**
   * @param alpha - Beta(α, α)'s parameter. Default 1 (fastai's).
   * @param seed - Seeds λ, the box and the shuffles.
   */
  constructor(alpha = 1, seed?: number) {
    super(alpha, seed);
  }

  override beforeBatch(): void {
    const xb = this.learn.xb!;
    const [n, h, w] = xb.shape as [number, number, number, number];
    const lam = this.sample();
    const shuffle = this.shuffle(n);
    this.yb1 = tf.gather(this.learn.yb!, shuffle);
    // fastai's rand_bbox: a box of side √(1 − λ) of the image, centred uniformly, clipped.
    const cutRat = Math.sqrt(1 - lam);
    const cutW = Math.round(w * cutRat);
    const cutH = Math.round(h * cutRat);
    const cx = Math.floor(this.rng() * w);
    const cy = Math.floor(this.rng() * h);
    const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
    const [x1, y1, x2, y2] = [clamp(cx - Math.floor(cutW / 2), w), clamp(cy - Math.floor(cutH / 2), h), clamp(cx + Math.floor(cutW / 2), w), clamp(cy + Math.floor(cutH / 2), h)];
    this.box = [x1, y1, x2, y2];
    this.learn.xb = tf.tidy(() => {
      const mask = tf.pad(tf.ones([y2 - y1, x2 - x1, 1]), [[y1, h - y2], [x1, w - x2], [0, 0]]);
      const xb1 = tf.gather(xb, shuffle);
      return tf.add(tf.mul(xb, tf.sub(1, mask)), tf.mul(xb1, mask));
    });
    shuffle.dispose();
    this.lam = tf.scalar(1 - ((x2 - x1) * (y2 - y1)) / (w * h));
    this.mixTargets();
  }
}
