import { basename, dirname } from 'node:path';
import seedrandom from 'seedrandom';
import { FastvisionError } from '../core/errors.js';

/** Indices of the training and validation items. */
export type Split = [train: number[], valid: number[]];

/**
 * Splits items into training and validation indices. It takes the items, as fastai's
 * splitters and `DataBlock` pass them, or just their number: these splitters only count.
 */
export type Splitter = (items: number | readonly unknown[]) => Split;

/**
 * A splitter that decides from the items themselves (their paths, in a `DataBlock`):
 * {@link grandparentSplitter}, {@link funcSplitter}. Every {@link Splitter} is one too.
 */
export type ItemSplitter<T = string> = (items: readonly T[]) => Split;

const count = (items: number | readonly unknown[]): number => (typeof items === 'number' ? items : items.length);

/** A seeded random source in [0, 1); unseeded means a different stream every run, as fastai's `seed=None`. */
export function rng(seed?: number | string): () => number {
  return seed == null ? seedrandom() : seedrandom(String(seed));
}

/** Fisher–Yates permutation of 0..n-1 driven by `random`. */
export function permutation(n: number, random: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

export function checkValidPct(validPct: number): void {
  if (!(typeof validPct === 'number' && validPct > 0 && validPct < 1)) {
    throw new FastvisionError('BAD_OPTION', `fastvision: validPct must be a number in (0, 1), got ${String(validPct)}`);
  }
}

/**
 * fastai's `RandomSplitter`: a seeded permutation of the items; validation is its first
 * `floor(validPct · n)` indices, training the rest. Not stratified.
 *
 * @param validPct - Share of items for validation, in (0, 1). Default 0.2.
 * @param seed - Seeds the permutation; unseeded differs every run.
 *
 * @example
 * ```ts
 * const [train, valid] = randomSplitter(0.2, 42)(100);   // 80 and 20 indices
 * const block = new DataBlock({ getItems: getImageFiles, getY: parentLabel, splitter: randomSplitter(0.2, 42) });
 * ```
 */
export function randomSplitter(validPct = 0.2, seed?: number | string): Splitter {
  checkValidPct(validPct);
  return (items) => {
    const n = count(items);
    const p = permutation(n, rng(seed));
    const cut = Math.floor(validPct * n);
    return [p.slice(cut), p.slice(0, cut)];
  };
}

/**
 * A random split that keeps each class's share: per class (in sorted order), a seeded
 * permutation of its items with the first `round(validPct · count)` to validation.
 *
 * @param labels - Each item's class.
 * @param validPct - Share of each class for validation, in (0, 1). Default 0.2.
 * @param seed - Seeds the permutations.
 *
 * @example
 * ```ts
 * const [train, valid] = stratifiedSplitter(['a', 'a', 'a', 'b', 'b'], 0.4, 1)(5);
 * ```
 */
export function stratifiedSplitter(labels: readonly string[], validPct = 0.2, seed?: number | string): Splitter {
  checkValidPct(validPct);
  return (items) => {
    const n = count(items);
    if (n !== labels.length) throw new FastvisionError('BAD_OPTION', `fastvision: stratifiedSplitter has ${labels.length} labels for ${n} items`);
    const random = rng(seed);
    const byClass = new Map<string, number[]>();
    labels.forEach((l, i) => byClass.set(l, [...(byClass.get(l) ?? []), i]));
    const train: number[] = [];
    const valid: number[] = [];
    for (const label of [...byClass.keys()].sort()) {
      const members = byClass.get(label)!;
      const p = permutation(members.length, random).map((k) => members[k]!);
      const cut = Math.round(validPct * members.length);
      valid.push(...p.slice(0, cut));
      train.push(...p.slice(cut));
    }
    return [train, valid];
  };
}

/**
 * fastai's `ColSplitter`: items whose flag is truthy go to validation.
 *
 * @param isValid - One flag per item.
 *
 * @example
 * ```ts
 * colSplitter([false, true, false])(3);   // [[0, 2], [1]]
 * ```
 */
export function colSplitter(isValid: readonly boolean[]): Splitter {
  return (items) => {
    const n = count(items);
    const train: number[] = [];
    const valid: number[] = [];
    for (let i = 0; i < n; i++) (isValid[i] ? valid : train).push(i);
    return [train, valid];
  };
}

/** Options of {@link grandparentSplitter}. */
export interface GrandparentSplitterOptions {
  /** Grandparent folder(s) of the training items. Default `'train'`. */
  trainName?: string | readonly string[];
  /** Grandparent folder(s) of the validation items. Default `'valid'`. */
  validName?: string | readonly string[];
}

/**
 * fastai's `GrandparentSplitter`: an item's split is the name of the folder above its
 * class folder, as in ImageNet's `train/<class>/x.jpg`, `valid/<class>/y.jpg`. Items
 * under neither name are in neither set (a `test/` folder, say): a `DataBlock` leaves
 * them out and says how many.
 *
 * @param opts - `trainName` (default `'train'`) and `validName` (default `'valid'`), each a name or a list of names.
 *
 * @example
 * ```ts
 * grandparentSplitter()(['train/cat/1.jpg', 'valid/dog/2.jpg', 'train/dog/3.jpg']);   // [[0, 2], [1]]
 * const block = new DataBlock({ getItems: getImageFiles, getY: parentLabel, splitter: grandparentSplitter({ validName: 'val' }) });
 * ```
 */
export function grandparentSplitter(opts: GrandparentSplitterOptions = {}): ItemSplitter<string> {
  const { trainName = 'train', validName = 'valid' } = opts;
  // As fastai: the indices of each name in turn, in item order within a name.
  const under = (items: readonly string[], names: string | readonly string[]) =>
    (typeof names === 'string' ? [names] : names).flatMap((name) => items.flatMap((item, i) => (basename(dirname(dirname(item))) === name ? [i] : [])));
  return (items) => [under(items, trainName), under(items, validName)];
}

/**
 * fastai's `FuncSplitter`: items for which `fn` is true go to validation, the rest to training.
 *
 * @param fn - Whether an item belongs to the validation set.
 *
 * @example
 * ```ts
 * funcSplitter((file: string) => file.includes('/2024/'))(['a/2023/x.jpg', 'a/2024/y.jpg']);   // [[0], [1]]
 * ```
 */
export function funcSplitter<T = string>(fn: (item: T) => boolean): ItemSplitter<T> {
  if (typeof fn !== 'function') throw new FastvisionError('BAD_OPTION', `fastvision: funcSplitter takes a function item → boolean, got ${typeof fn}`);
  return (items) => {
    const train: number[] = [];
    const valid: number[] = [];
    items.forEach((item, i) => (fn(item) ? valid : train).push(i));
    return [train, valid];
  };
}
