import { basename, dirname } from 'node:path';
import { FastvisionError } from '../core/errors.js';

/**
 * What a labeller gives an item: one class, or a list of classes for multi-label data.
 * Numbers and booleans (fastbook's `is_cat`) are classes too; the vocab holds them as
 * strings (`'false'`, `'true'`), in numeric order when every label is a number.
 */
export type Label = string | number | boolean | readonly string[];

/**
 * fastai's `parent_label`: the name of the folder a file is in, as in an ImageNet-style
 * `train/<class>/x.jpg` tree.
 *
 * @param file - A file's path.
 *
 * @example
 * ```ts
 * parentLabel('data/pets/train/beagle/beagle_12.jpg');   // 'beagle'
 * ```
 */
export function parentLabel(file: string): string {
  return basename(dirname(file));
}

/**
 * fastai's `RegexLabeller`: a labeller whose label is the first capture group of `pat`
 * in the string it is given (a file's path in a `DataBlock`). It searches anywhere in
 * the string, as Python's `re.search`; with `match` the match must start at the first
 * character, as `re.match`. A string the pattern does not match is an error naming it.
 *
 * @param pat - A RegExp (or its source) with at least one capture group.
 * @param match - Anchor the match at the start of the string. Default false.
 *
 * @example
 * ```ts
 * const label = regexLabeller(/([^/]+)_\d+\.jpg$/);
 * label('data/pets/great_pyrenees_3.jpg');   // 'great_pyrenees'
 * ```
 */
export function regexLabeller(pat: RegExp | string, match = false): (s: string) => string {
  const re = compile(pat);
  return (s) => {
    const m = re.exec(s);
    if (!m || (match && m.index !== 0)) throw new FastvisionError('BAD_DATA', `fastvision: ${re} does not match '${s}'`);
    if (!m[1]) throw new FastvisionError('BAD_DATA', `fastvision: the first group of ${re} is empty in '${s}'`);
    return m[1];
  };
}

/** `pat` as a RegExp without `g`/`y` (whose `lastIndex` would make `exec` depend on the previous item), checked to have a group. */
function compile(pat: RegExp | string): RegExp {
  if (typeof pat !== 'string' && !(pat instanceof RegExp)) {
    throw new FastvisionError('BAD_OPTION', `fastvision: the label pattern must be a RegExp or a string, got ${pat === null ? 'null' : typeof pat}`);
  }
  let re: RegExp;
  try {
    re = typeof pat === 'string' ? new RegExp(pat) : new RegExp(pat.source, pat.flags.replace(/[gy]/g, ''));
  } catch (err) {
    throw new FastvisionError('BAD_OPTION', `fastvision: the label pattern '${String(pat)}' is not a valid regular expression: ${(err as Error).message}`, { cause: err });
  }
  // `x|` matches the empty string, so its match array has one slot per group of `x`.
  const groups = new RegExp(`${re.source}|`, re.flags).exec('')!.length - 1;
  if (groups < 1) {
    throw new FastvisionError('BAD_OPTION', `fastvision: the label pattern ${re} has no capture group; the label is its first group, e.g. /^(.+)_\\d+\\.jpg$/`);
  }
  return re;
}
