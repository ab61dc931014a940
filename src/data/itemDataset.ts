import { relative, resolve, sep } from 'node:path';
import { buildDataset, type Built, type Entry } from './build.js';
import { isInside, resolveItemPath } from './items.js';
import type { Label } from './labellers.js';
import type { LoaderOptions } from './options.js';
import type { Split } from './splitters.js';
import { FastvisionError } from '../core/errors.js';

/** How a list of files becomes a labelled, split dataset: a `DataBlock`'s `getY` and `splitter`, and their names for messages. */
export interface ItemRecipe {
  getY: (item: string) => Label;
  splitter: (items: readonly string[]) => Split;
  /** What to call `getY` in messages: `'getY'`, `'labelFunc'`. */
  labeller: string;
  /** What to call the splitter in messages: `'the splitter'`, `'validPct 0.2'`. */
  splitterName: string;
}

const listLimit = 20;

/**
 * Labels, splits and builds the dataset of a list of files: the one path of `DataBlock`
 * and of `fromNameRe`, `fromPathRe`, `fromNameFunc` and `fromPathFunc`. Items are paths
 * as the file system takes them (absolute, or relative to the current folder); each is
 * given to `getY` as it is, and to `buildDataset` relative to `opts.path`, so the
 * containment rules (inside `path` after symlinks, unless `allowOutsidePath`) apply.
 * Every labelling problem is reported at once, the first 20 by name.
 */
export async function datasetFromItems(items: readonly string[], recipe: ItemRecipe, opts: LoaderOptions & { path: string }, source: string): Promise<Built> {
  checkItems(items, source);
  const root = resolve(opts.path);
  const names = items.map((item) => nameIn(root, item));
  const shown = names.map((name) => name.split(sep).join('/'));
  // A file outside the data folder is refused before any labeller sees it.
  if (!opts.allowOutsidePath) names.forEach((name, i) => resolveItemPath(name, { path: opts.path, checkInside: true }, `item ${i}`));
  const labels = labelItems(items, recipe, shown, source);
  const inValid = checkSplit(recipe.splitter(items), items.length, recipe.splitterName, shown, source);
  const multiLabel = labels.some((l) => Array.isArray(l));
  const entries: Entry[] = [];
  items.forEach((_, i) => {
    if (inValid[i] == null) return;
    const label = multiLabel && !Array.isArray(labels[i]) ? [labels[i]] : labels[i];
    entries.push({ name: names[i]!, label, origin: shown[i]!, valid: inValid[i] });
  });
  // buildDataset makes multi-label targets when it is given a delimiter; lists are never split on it.
  return buildDataset(entries, { ...opts, splitByFlag: true, ...(multiLabel ? { labelDelim: '\n' } : {}) }, source);
}

function checkItems(items: unknown, source: string): asserts items is readonly string[] {
  if (!Array.isArray(items)) {
    throw new FastvisionError('BAD_DATA', `fastvision: the items of ${source} must be a list of file paths, got ${items === null ? 'null' : typeof items}`);
  }
  if (items.length === 0) throw new FastvisionError('BAD_DATA', `fastvision: there are no items to load from ${source}`);
  const bad = items.flatMap((item, i) => (typeof item === 'string' && item !== '' ? [] : [`item ${i} (${JSON.stringify(item) ?? typeof item})`]));
  if (bad.length) throw new FastvisionError('BAD_DATA', `fastvision: ${bad.length} of ${items.length} items from ${source} are not file paths: ${shortList(bad, ', ')}`);
}

/** The item as `buildDataset` takes it: relative to the data folder when inside it, else absolute (refused there unless `allowOutsidePath`). */
function nameIn(root: string, item: string): string {
  const file = resolve(item);
  return isInside(root, file) ? relative(root, file) : file;
}

function labelItems(items: readonly string[], recipe: ItemRecipe, shown: readonly string[], source: string): unknown[] {
  const problems: string[] = [];
  let badReturn = false;
  let cause: unknown;
  const labels = items.map((item, i) => {
    let label: unknown;
    try {
      label = recipe.getY(item);
    } catch (err) {
      // A labeller's own error (a regex that does not match) is reported with the others.
      problems.push(`  ${shown[i]}: ${String((err as Error)?.message ?? err).replace(/^fastvision: /, '')}`);
      if (!(err instanceof FastvisionError)) cause ??= err;
      return undefined;
    }
    const problem = labelProblem(label);
    if (problem) {
      badReturn = true;
      problems.push(`  ${shown[i]}: ${recipe.labeller} returned ${problem}`);
    }
    return label;
  });
  if (problems.length) {
    throw new FastvisionError('BAD_DATA',
      `fastvision: ${problems.length} of ${items.length} items of ${source} cannot be labelled:\n${shortList(problems, '\n')}` +
        (badReturn ? `\n(${recipe.labeller} must return a non-empty string, or a list of strings for multi-label data)` : ''),
      cause === undefined ? undefined : { cause },
    );
  }
  return labels;
}

/** What is wrong with a label, or undefined. Numbers and booleans are labels too (fastbook's `is_cat`). */
function labelProblem(label: unknown): string | undefined {
  if (label == null) return String(label);
  if (typeof label === 'string') return label.trim() === '' ? JSON.stringify(label) : undefined;
  if (typeof label === 'number') return Number.isFinite(label) ? undefined : String(label);
  if (typeof label === 'boolean') return undefined;
  if (label instanceof Promise) return 'a Promise (labels are computed synchronously, as in fastai)';
  if (Array.isArray(label)) {
    const odd = label.find((l) => typeof l !== 'string');
    return odd === undefined ? undefined : `a list holding ${JSON.stringify(odd) ?? typeof odd}`;
  }
  return typeof label === 'object' ? 'an object' : `a ${typeof label}`;
}

/** Each item's split from the splitter's answer: true for validation, false for training, undefined for neither. */
function checkSplit(split: unknown, n: number, splitterName: string, shown: readonly string[], source: string): (boolean | undefined)[] {
  const isIndices = (a: unknown): a is number[] => Array.isArray(a) && a.every((i) => Number.isInteger(i) && i >= 0 && i < n);
  if (!Array.isArray(split) || split.length !== 2 || !isIndices(split[0]) || !isIndices(split[1])) {
    throw new FastvisionError('BAD_OPTION', `fastvision: ${splitterName} must return [trainIdx, validIdx], two lists of item indices from 0 to ${n - 1}; got ${preview(split)}`);
  }
  const inValid = new Array<boolean | undefined>(n);
  for (const [set, valid] of [[split[0], false], [split[1], true]] as const) {
    for (const i of set) {
      if (inValid[i] != null) throw new FastvisionError('BAD_DATA', `fastvision: ${splitterName} lists ${shown[i]} (item ${i}) twice; an item belongs to one set at most`);
      inValid[i] = valid;
    }
  }
  const neither = shown.filter((_, i) => inValid[i] == null);
  const counts = `${n} items${neither.length ? `, ${neither.length} of them in neither set` : ''}`;
  if (split[0].length === 0) throw new FastvisionError('BAD_DATA', `fastvision: ${splitterName} leaves the training set of ${source} empty (${counts})`);
  if (split[1].length === 0) throw new FastvisionError('BAD_DATA', `fastvision: ${splitterName} leaves the validation set of ${source} empty (${counts})`);
  if (neither.length) {
    // fastai drops them silently; a user should at least hear that data is not used.
    console.warn(`fastvision: ${splitterName} puts ${neither.length} of ${n} items of ${source} in neither set; they are not used (${shortList(neither.slice(0, 3), ', ')}${neither.length > 3 ? ', …' : ''})`);
  }
  return inValid;
}

function shortList(lines: readonly string[], join: string): string {
  return lines.slice(0, listLimit).join(join) + (lines.length > listLimit ? `${join}… and ${lines.length - listLimit} more` : '');
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
