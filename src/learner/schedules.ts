import { FastvisionError } from '../core/errors.js';

/** A hyper-parameter as a function of training progress, `pos` in [0, 1]. */
export type Sched = (pos: number) => number;

/**
 * Linear from `start` to `end`.
 *
 * @example
 * ```ts
 * schedLin(1, 0)(0.25);   // 0.75
 * ```
 */
export const schedLin = (start: number, end: number): Sched => (pos) => start + pos * (end - start);

/**
 * Half a cosine from `start` (pos 0) to `end` (pos 1): fastai's `SchedCos`.
 *
 * @example
 * ```ts
 * schedCos(1, 0)(0.5);    // 0.5, by a half cosine
 * ```
 */
export const schedCos = (start: number, end: number): Sched => (pos) => start + ((1 + Math.cos(Math.PI * (1 - pos))) * (end - start)) / 2;

/**
 * Constant `start`.
 *
 * @example
 * ```ts
 * schedNo(1e-3)(0.7);     // 1e-3
 * ```
 */
export const schedNo = (start: number): Sched => () => start;

/**
 * Exponential from `start` to `end`: `start · (end/start)^pos`.
 *
 * @example
 * ```ts
 * schedExp(1e-7, 10)(0.5); // 1e-3
 * ```
 */
export const schedExp = (start: number, end: number): Sched => (pos) => start * (end / start) ** pos;

/**
 * `start + (end − start) · pos^power`.
 *
 * @example
 * ```ts
 * schedPoly(1, 0, 2)(0.5); // 0.75
 * ```
 */
export const schedPoly = (start: number, end: number, power: number): Sched => (pos) => start + (end - start) * pos ** power;

/**
 * fastai's `combine_scheds`: `scheds[i]` runs over the i-th share `pcts[i]` of
 * training, with its own pos rescaled to [0, 1]. The shares must add up to 1.
 *
 * @param pcts - Each schedule's share of training; they add up to 1.
 * @param scheds - The schedules, in order.
 *
 * @example
 * ```ts
 * const warmupThenDecay = combineScheds([0.25, 0.75], [schedLin(0, 1e-3), schedCos(1e-3, 0)]);
 * ```
 */
export function combineScheds(pcts: readonly number[], scheds: readonly Sched[]): Sched {
  if (pcts.length !== scheds.length) throw new FastvisionError('BAD_OPTION', 'fastvision: combineScheds needs one share per schedule');
  if (pcts.some((p) => p < 0) || Math.abs(pcts.reduce((a, b) => a + b, 0) - 1) > 1e-12) {
    throw new FastvisionError('BAD_OPTION', `fastvision: schedule shares must be ≥ 0 and add up to 1, got ${pcts.join(', ')}`);
  }
  const bounds = [0];
  for (const p of pcts) bounds.push(bounds.at(-1)! + p);
  const last = pcts.length - 1;
  return (pos) => {
    let i = 0;
    for (let k = 0; k < bounds.length; k++) if (pos >= bounds[k]!) i = k;
    i = Math.min(i, last);
    return scheds[i]!((pos - bounds[i]!) / (bounds[i + 1]! - bounds[i]!));
  };
}

/**
 * Cosine from `start` to `middle` over the first `pct`, then from `middle` to `end`: fastai's `combined_cos`.
 *
 * @param pct - Share of training for the first half-cosine.
 * @param start - Value at the start.
 * @param middle - Value at `pct`.
 * @param end - Value at the end.
 *
 * @example
 * ```ts
 * const lr = combinedCos(0.25, 1e-3 / 25, 1e-3, 1e-3 / 1e5);   // fitOneCycle's lr for lrMax 1e-3
 * ```
 */
export function combinedCos(pct: number, start: number, middle: number, end: number): Sched {
  return combineScheds([pct, 1 - pct], [schedCos(start, middle), schedCos(middle, end)]);
}
