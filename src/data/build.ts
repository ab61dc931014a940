import { ImageDataset } from './dataset.js';
import { defaultLimitInputPixels, type ResizeSpec } from './image.js';
import { centredResize } from './transforms/itemTransforms.js';
import type { ItemTransform } from './transforms/transform.js';
import { ImageCache } from './imageCache.js';
import { checkContained, resolveItemPath, statItems, type ImageItem, type SkippedItem } from './items.js';
import type { LoaderOptions } from './options.js';
import { checkValidPct, colSplitter, randomSplitter, stratifiedSplitter } from './splitters.js';
import { encodeLabels, makeVocab } from './vocab.js';
import { FastvisionError } from '../core/errors.js';
import { maxImageSide } from './resize.js';

/** One row of any source, before files are checked: a file name, its label, where it came from. */
export interface Entry {
  name: string;
  label: unknown;
  origin: string;
  /** From `validCol`, or the folder an image sits in. */
  valid?: boolean;
}

export interface BuildOptions extends LoaderOptions {
  folder?: string;
  suff?: string;
  labelDelim?: string;
  /** Split by each entry's `valid` flag rather than at random. */
  splitByFlag?: boolean;
}

export interface Built {
  dataset: ImageDataset;
  train: number[];
  valid: number[];
}

const listLimit = 20;

/** Checks, labels, splits and sizes the entries of a table, folder or list: the core of every factory. */
export async function buildDataset(entries: readonly Entry[], opts: BuildOptions, source: string): Promise<Built> {
  if (entries.length === 0) throw new FastvisionError('BAD_DATA', `fastvision: ${source} is empty: no rows to load`);
  if (!opts.splitByFlag) checkValidPct(opts.validPct ?? 0.2);
  const itemTfms = itemPipeline(opts);
  const labels = entries.map((e) => parseLabel(e, opts.labelDelim));
  const emptyLabels = entries.filter((_, i) => labels[i] == null);
  if (emptyLabels.length) {
    throw new FastvisionError('BAD_DATA',
      `fastvision: ${emptyLabels.length} rows of ${source} have an empty label: ` +
        `${emptyLabels.slice(0, listLimit).map((e) => e.origin).join(', ')}${emptyLabels.length > listLimit ? ', …' : ''}`,
    );
  }
  // Items must lie inside the data folder (after symlinks) unless the user opts out: a
  // table from a stranger must not read /etc/… or a file beside the data.
  const checkInside = !opts.allowOutsidePath;
  const path = opts.path ?? '.';
  const files = entries.map((e) => ({
    file: resolveItemPath(e.name, { path, folder: opts.folder, suff: opts.suff, checkInside }, e.origin),
    origin: e.origin,
  }));
  const onBadImage = opts.onBadImage ?? 'error';
  const stat = await statItems(files, onBadImage === 'skip', opts.progress ?? true);
  if (checkInside) await checkContained(stat.items, path, path, opts.progress ?? true);
  const keep = entries.map((_, i) => i).filter((i) => stat.items[i] != null);
  const items = keep.map((i) => stat.items[i]!) as ImageItem[];
  const kept = keep.map((i) => labels[i]!);
  if (items.length === 0) throw new FastvisionError('BAD_DATA', `fastvision: every image of ${source} was skipped`);

  const [train, valid] = split(kept, keep.map((i) => entries[i]!.valid ?? false), opts);
  if (train.length === 0) throw new FastvisionError('BAD_DATA', `fastvision: the training set of ${source} is empty`);
  if (valid.length === 0) {
    throw new Error(
      opts.splitByFlag
        ? `fastvision: no item of ${source} is marked for validation`
        : `fastvision: validPct ${opts.validPct ?? 0.2} of ${items.length} items leaves the validation set empty`,
    );
  }
  const numeric = entries.every((e) => typeof e.label === 'number');
  const vocab = makeVocab(train.map((i) => kept[i]!), numeric);
  const multiLabel = opts.labelDelim != null;
  if (!multiLabel && vocab.length < 2) {
    throw new FastvisionError('BAD_DATA', `fastvision: the training set of ${source} has a single class ('${vocab[0]}'); a classifier needs at least two`);
  }
  const targets = multiLabel ? multiHot(kept as string[][], vocab, items) : singleTargets(kept as string[], vocab, items);
  const cache = opts.cache instanceof ImageCache ? opts.cache : new ImageCache(opts.cache);
  const skipped: SkippedItem[] = stat.skipped;
  const dataset = new ImageDataset(items, targets, vocab, itemTfms, cache, onBadImage, skipped, opts.limitInputPixels ?? defaultLimitInputPixels, opts.allowVector ?? false);
  return { dataset, train, valid };
}

/** A single label as a string, multi-labels as a list; `undefined` when empty (an error for single-label data). */
function parseLabel(e: Entry, delim: string | undefined): string | string[] | undefined {
  const raw = e.label == null ? '' : Array.isArray(e.label) ? e.label.map(String) : String(e.label);
  if (delim == null) {
    if (Array.isArray(raw)) return raw.length === 1 ? raw[0] : undefined;
    return raw.trim() === '' ? undefined : raw;
  }
  // Multi-label: no labels at all is a legitimate all-zero target.
  const parts = Array.isArray(raw) ? raw : raw.split(delim);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function split(labels: readonly (string | string[])[], flags: readonly boolean[], opts: BuildOptions): [number[], number[]] {
  if (opts.splitByFlag) return colSplitter(flags)(labels.length);
  const pct = opts.validPct ?? 0.2;
  if (opts.stratify) {
    if (labels.some((l) => typeof l !== 'string')) throw new FastvisionError('BAD_DATA', 'fastvision: stratify works on single-label data only');
    return stratifiedSplitter(labels as string[], pct, opts.seed)(labels.length);
  }
  return randomSplitter(pct, opts.seed)(labels.length);
}

function singleTargets(labels: readonly string[], vocab: readonly string[], items: readonly ImageItem[]): number[] {
  return encodeLabels(labels, vocab, (i) => items[i]!.origin);
}

function multiHot(labels: readonly string[][], vocab: readonly string[], items: readonly ImageItem[]): number[][] {
  return labels.map((ls, i) => {
    const hot = new Array<number>(vocab.length).fill(0);
    for (const k of encodeLabels(ls, vocab, () => items[i]!.origin)) hot[k] = 1;
    return hot;
  });
}

export function resizeSpec(opts: Pick<LoaderOptions, 'size' | 'resizeMethod' | 'padMode'>): ResizeSpec {
  const size = opts.size ?? 224;
  const [height, width] = typeof size === 'number' ? [size, size] : size;
  for (const v of [height, width]) {
    if (!(Number.isInteger(v) && v! >= 1 && v! <= maxImageSide)) {
      throw new FastvisionError('BAD_OPTION', `fastvision: size must be a whole number from 1 to ${maxImageSide} (or [height, width] of those), got ${JSON.stringify(size)}`);
    }
  }
  const method = opts.resizeMethod ?? 'crop';
  if (!['squish', 'crop', 'pad'].includes(method)) throw new FastvisionError('BAD_OPTION', `fastvision: resizeMethod must be 'squish', 'crop' or 'pad', got '${method}'`);
  const padMode = opts.padMode ?? 'reflection';
  if (!['reflection', 'zeros', 'border'].includes(padMode)) throw new FastvisionError('BAD_OPTION', `fastvision: padMode must be 'reflection', 'zeros' or 'border', got '${padMode}'`);
  return { height: height!, width: width!, method, padMode };
}

/**
 * The item transforms of a factory's options: `itemTfms` as given when one sets the
 * size, else the `size` shorthand (fastai v1's centred resize, 224 by default) first.
 */
export function itemPipeline(opts: Pick<LoaderOptions, 'size' | 'resizeMethod' | 'padMode' | 'itemTfms'>): ItemTransform[] {
  const tfms = opts.itemTfms ?? [];
  if (!Array.isArray(tfms)) throw new FastvisionError('BAD_OPTION', `fastvision: itemTfms must be an array of item transforms, got ${typeof tfms}`);
  tfms.forEach((t, i) => {
    if ((t as { kind?: string } | null)?.kind !== 'item') {
      const hint = (t as { kind?: string } | null)?.kind === 'batch' ? ` ('${t.name}' is a batch transform: put it in batchTfms)` : '';
      throw new FastvisionError('BAD_OPTION', `fastvision: itemTfms[${i}] is not an item transform${hint}`);
    }
  });
  if (!tfms.some((t) => t.size)) {
    const spec = resizeSpec(opts);
    return [centredResize([spec.height, spec.width], { method: spec.method, padMode: spec.padMode }), ...tfms];
  }
  const clash = (['size', 'resizeMethod', 'padMode'] as const).filter((k) => opts[k] != null);
  if (clash.length) {
    throw new FastvisionError('BAD_OPTION', `fastvision: give the size either as size/resizeMethod/padMode or in itemTfms, not both (got ${clash.join(', ')} and [${tfms.map((t) => t.name).join(', ')}])`);
  }
  return [...tfms];
}
