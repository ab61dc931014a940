import { Callback, CancelFitException, CancelValidException } from './callback.js';
import { schedExp } from './schedules.js';

/** A suggestion function: `(lrs, losses, numIt)` → `[suggested lr, point to mark on the plot]`. */
export type SuggestionFunc = (lrs: readonly number[], losses: readonly number[], numIt: number) => [number, [number, number]];

/**
 * The middle of the longest valley (fastai's default, `valley`): the longest strictly
 * decreasing run of losses found by dynamic programming, then
 * `start + int(len/3) + int(len/6)` into it.
 *
 * @example
 * ```ts
 * const { valley } = await learn.lrFind({ suggestFuncs: ['valley'] });
 * ```
 */
export const valley: SuggestionFunc = (lrs, losses) => {
  const n = losses.length;
  let maxStart = 0;
  let maxEnd = 0;
  const lds = new Array<number>(n).fill(1);
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (losses[i]! < losses[j]! && lds[i]! < lds[j]! + 1) lds[i] = lds[j]! + 1;
      // Inside the inner loop, as in fastai.
      if (lds[maxEnd]! < lds[i]!) {
        maxEnd = i;
        maxStart = maxEnd - lds[maxEnd]!;
      }
    }
  }
  const sections = (maxEnd - maxStart) / 3;
  // maxStart can be −1 (fastai's index arithmetic); Python then reads from the end, and so do we.
  const idx = maxStart + Math.trunc(sections) + Math.trunc(sections / 2);
  const i = idx < 0 ? n + idx : idx;
  return [lrs[i]!, [lrs[i]!, losses[i]!]];
};

/** numpy's `gradient` over the index: central differences inside, one-sided at the ends. */
export function gradient(y: readonly number[]): number[] {
  const n = y.length;
  if (n < 2) return y.map(() => 0);
  return y.map((_, i) => (i === 0 ? y[1]! - y[0]! : i === n - 1 ? y[n - 1]! - y[n - 2]! : (y[i + 1]! - y[i - 1]!) / 2));
}

/**
 * `slide` (Novetta's interval slide rule), fastai's defaults `lrDiff = 15`, `thresh = 0.005`:
 * walks two points 15 apart leftwards from the end while their loss gradients differ
 * by more than `thresh`; suggests the last left point's lr.
 *
 * @param lrDiff - Distance between the two points. Default 15.
 * @param thresh - Gradient difference that stops the walk. Default 0.005.
 * @param adjustValue - Multiplies the suggestion. Default 1.
 *
 * @example
 * ```ts
 * const [lr] = slideWith(10)(result.lrs, result.losses, 100);
 * ```
 */
export function slideWith(lrDiff = 15, thresh = 0.005, adjustValue = 1): SuggestionFunc {
  return (lrs, losses) => {
    const n = losses.length;
    const g = gradient(losses);
    const at = <T>(a: readonly T[], i: number) => a[i < 0 ? a.length + i : i]!;
    let r = -1;
    let l = r - lrDiff;
    let localMin = at(lrs, l);
    while (l >= -n && Math.abs(at(g, r) - at(g, l)) > thresh) {
      localMin = at(lrs, l);
      r--;
      l--;
    }
    const suggestion = localMin * adjustValue;
    return [suggestion, [suggestion, interpLog10(suggestion, lrs, losses)]];
  };
}
/**
 * `slide` with fastai's defaults ({@link slideWith}`()`).
 *
 * @example
 * ```ts
 * const { slide } = await learn.lrFind({ suggestFuncs: ['slide'] });
 * ```
 */
export const slide: SuggestionFunc = slideWith();

/**
 * The lr of the lowest loss, divided by 10 (the plotted point is the lowest loss itself).
 *
 * @example
 * ```ts
 * const { minimum } = await learn.lrFind({ suggestFuncs: ['minimum'] });
 * ```
 */
export const minimum: SuggestionFunc = (lrs, losses) => {
  let k = 0;
  losses.forEach((v, i) => (v < losses[k]! ? (k = i) : 0));
  return [lrs[k]! / 10, [lrs[k]!, losses[k]!]];
};

/**
 * The left end of the steepest descent of loss against log lr.
 *
 * @example
 * ```ts
 * const { steep } = await learn.lrFind({ suggestFuncs: ['steep'] });
 * ```
 */
export const steep: SuggestionFunc = (lrs, losses) => {
  let k = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i + 1 < losses.length; i++) {
    const slope = (losses[i + 1]! - losses[i]!) / (Math.log(lrs[i + 1]!) - Math.log(lrs[i]!));
    if (slope < best) {
      best = slope;
      k = i;
    }
  }
  return [lrs[k]!, [lrs[k]!, losses[k]!]];
};

/**
 * The suggestion functions by name, as `lrFind({ suggestFuncs })` takes them.
 *
 * @example
 * ```ts
 * const { valley, steep } = await learn.lrFind({ suggestFuncs: ['valley', 'steep'] });
 * ```
 */
export const suggestionFuncs = { valley, slide, minimum, steep } as const;
/**
 * A name in {@link suggestionFuncs}: `'valley' | 'slide' | 'minimum' | 'steep'`.
 */
export type SuggestionName = keyof typeof suggestionFuncs;

/** numpy's `interp(log10(x), log10(xs), ys)`: linear in log10, clamped at the ends. */
function interpLog10(x: number, xs: readonly number[], ys: readonly number[]): number {
  const lx = Math.log10(x);
  const lxs = xs.map(Math.log10);
  if (lx <= lxs[0]!) return ys[0]!;
  for (let i = 1; i < lxs.length; i++) {
    if (lx <= lxs[i]!) return ys[i - 1]! + ((ys[i]! - ys[i - 1]!) * (lx - lxs[i - 1]!)) / (lxs[i]! - lxs[i - 1]!);
  }
  return ys.at(-1)!;
}

/**
 * fastai's `LRFinder`: iteration i trains at `start·(end/start)^(i/numIt)` (one
 * exponential per layer group), validation is skipped, and the fit stops after
 * `numIt` iterations or when the smoothed loss passes 4× its best (or stops being finite).
 *
 * @example
 * ```ts
 * // learn.lrFind() runs it for you; by hand:
 * await learn.fit(2, 1e-7, { cbs: [new LRFinder([1e-7, 1e-7, 1e-7], [10, 10, 10], 100, true)] });
 * ```
 */
export class LRFinder extends Callback {
  override order = 60;
  override runValid = false;
  private best = Number.POSITIVE_INFINITY;
  private readonly scheds: ((pos: number) => number)[];

  /**
   * @param startLrs - First learning rate of each layer group.
   * @param endLrs - Last learning rate of each layer group.
   * @param numIt - Iterations to run.
   * @param stopDiv - Stop when the smoothed loss passes 4× its best.
   */
  constructor(
    startLrs: readonly number[],
    endLrs: readonly number[],
    readonly numIt: number,
    readonly stopDiv: boolean,
  ) {
    super();
    this.scheds = startLrs.map((s, i) => schedExp(s, endLrs[i]!));
  }

  override beforeBatch(): void {
    if (!this.learn.training) return;
    this.learn.opt.setHyper('lr', this.scheds.map((f) => f(this.learn.trainIter / this.numIt)));
  }

  override async afterBatch(): Promise<void> {
    if (!this.learn.training) return;
    await this.learn.readLosses(); // the divergence check needs every step's loss, even on a GPU
    const smooth = this.learn.recorder.losses.at(-1)!;
    if (smooth < this.best) this.best = smooth;
    if (this.stopDiv && (smooth > 4 * this.best || !Number.isFinite(smooth))) throw new CancelFitException();
    if (this.learn.trainIter >= this.numIt) throw new CancelFitException();
  }

  override beforeValidate(): void {
    throw new CancelValidException();
  }
}
