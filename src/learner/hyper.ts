import { FastvisionError } from '../core/errors.js';

/**
 * fastai's `slice(hi)` / `slice(lo, hi)` for learning rates (and any hyper-parameter) across layer groups.
 *
 * Made by {@link slice}; {@link expandHyper} turns it into one value per group.
 *
 * @example
 * ```ts
 * expandHyper(slice(1e-3), 3, 'lr');   // [1e-4, 1e-4, 1e-3]
 * ```
 */
export class HyperSlice {
  constructor(
    readonly start: number | undefined,
    readonly stop: number,
  ) {}
}

/**
 * `slice(hi)`: earlier layer groups get hi/10, the last gets hi.
 * `slice(lo, hi)`: geometrically spaced from lo (first group) to hi (last group).
 *
 * @example
 * ```ts
 * await learn.fitOneCycle(5, slice(1e-4, 1e-3 / 5));
 * ```
 *
 * @param stopOrStart - With one argument, the last group's value; with two, the first group's.
 * @param stop - The last group's value.
 */
export function slice(stopOrStart: number, stop?: number): HyperSlice {
  return stop === undefined ? new HyperSlice(undefined, stopOrStart) : new HyperSlice(stopOrStart, stop);
}

/** A hyper-parameter for every layer group: one number, one per group, or a {@link slice}. */
export type HyperValue = number | readonly number[] | HyperSlice;

/**
 * fastcore's `even_mults`: `start · step^i` with `step = (stop/start)^(1/(n−1))`; `[stop]` when n is 1.
 *
 * @param start - The first value.
 * @param stop - The last value.
 * @param n - How many.
 *
 * @example
 * ```ts
 * evenMults(1e-5, 1e-3, 3);   // [1e-5, 1e-4, 1e-3]
 * ```
 */
export function evenMults(start: number, stop: number, n: number): number[] {
  if (n === 1) return [stop];
  const step = (stop / start) ** (1 / (n - 1));
  return Array.from({ length: n }, (_, i) => start * step ** i);
}

/**
 * A hyper-parameter expanded to one value per layer group, exactly as fastai's `set_hyper`.
 *
 * @param value - A number (every group), an array (one per group), or a {@link slice}.
 * @param nGroups - The learner's layer groups.
 * @param name - Names the hyper-parameter in the error for a wrong-length array.
 *
 * @example
 * ```ts
 * expandHyper(slice(1e-4, 1e-3 / 5), 3, 'lr');   // [1e-4, 1.41e-4, 2e-4]
 * ```
 */
export function expandHyper(value: HyperValue, nGroups: number, name: string): number[] {
  if (value instanceof HyperSlice) {
    // fastai tests `if v.start:`, so a start of 0 means "no start".
    return value.start ? evenMults(value.start, value.stop, nGroups) : [...Array<number>(nGroups - 1).fill(value.stop / 10), value.stop];
  }
  if (typeof value === 'number') return Array<number>(nGroups).fill(value);
  if (value.length !== nGroups) {
    throw new FastvisionError('BAD_OPTION', `fastvision: ${name} has ${value.length} values but the model has ${nGroups} layer groups; give one per group, one number, or a slice`);
  }
  return [...value];
}
