import { basename, relative, resolve, sep } from 'node:path';
import type { ItemRecipe } from './itemDataset.js';
import type { Label } from './labellers.js';
import type { LoaderOptions } from './options.js';
import { checkValidPct, randomSplitter, stratifiedSplitter } from './splitters.js';
import { FastvisionError } from '../core/errors.js';

/** What a factory's labeller sees of a file: its name (`fromNameRe`, `fromNameFunc`) or its path below `path` (`fromPathRe`, `fromPathFunc`). */
export type LabelOn = 'name' | 'path';

/** A factory's call as a DataBlock would make it: the items, how to label and split them, and the loader options left. */
export interface FactoryPlan {
  items: string[];
  recipe: ItemRecipe;
  opts: LoaderOptions & { path: string };
}

/**
 * The DataBlock of fastai's `from_name_re` / `from_path_func` family: `fnames` below
 * `path`, labelled by `label` on each file's name or `/`-separated path relative to
 * `path`, split at random with `validPct` (default 0.2, as fastai) and `seed`, or per
 * class with `stratify`.
 */
export function factoryPlan(path: string, fnames: readonly string[], on: LabelOn, label: (s: string) => Label, labeller: string, opts: LoaderOptions): FactoryPlan {
  if (typeof path !== 'string' || path === '') throw new FastvisionError('BAD_OPTION', `fastvision: path must be the data folder the file names are relative to, got ${JSON.stringify(path) ?? typeof path}`);
  if (!Array.isArray(fnames)) throw new FastvisionError('BAD_DATA', `fastvision: fnames must be a list of file names relative to path '${path}', got ${fnames === null ? 'null' : typeof fnames}`);
  if (typeof label !== 'function') throw new FastvisionError('BAD_OPTION', `fastvision: ${labeller} must be a function file name → label, got ${typeof label}`);
  const root = resolve(path);
  // Non-strings pass through untouched, for datasetFromItems to report by index.
  const items = fnames.map((f) => (typeof f === 'string' && f !== '' ? resolve(root, f) : f));
  const part = on === 'name' ? (item: string) => basename(item) : (item: string) => relative(root, item).split(sep).join('/');
  const getY = (item: string) => label(part(item));
  const { validPct = 0.2, stratify = false, ...rest } = opts;
  checkValidPct(validPct);
  const splitter = stratify
    ? (all: readonly string[]) => {
        const labels = all.map(getY);
        if (labels.some((l) => Array.isArray(l))) throw new FastvisionError('BAD_DATA', 'fastvision: stratify works on single-label data only');
        return stratifiedSplitter(labels.map(String), validPct, opts.seed)(all);
      }
    : randomSplitter(validPct, opts.seed);
  return { items, recipe: { getY, splitter, labeller, splitterName: `validPct ${validPct}` }, opts: { ...rest, path } };
}
