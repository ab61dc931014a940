import { resolve } from 'node:path';
import { FastvisionError } from '../core/errors.js';
import { DataLoader } from './dataLoader.js';
import { ImageDataset, type OnBadImage } from './dataset.js';
import { defaultLimitInputPixels } from './image.js';
import { ImageCache } from './imageCache.js';
import { statItems, type ImageItem, type SkippedItem } from './items.js';
import type { NormStats } from './normalize.js';
import type { BatchTransform, ItemTransform } from './transforms/transform.js';
import { encodeLabels } from './vocab.js';

/** A test item: an image file's path (relative to the current folder), an encoded image, or either with its label. */
export type TestItem = string | Buffer | { item: string | Buffer; label: string | string[] };

/** Options of `dls.testDl` and `learn.testDl`. */
export interface TestDlOptions {
  /** Items come as `{ item, label }` and batches carry their targets (so `getPreds` can score them). Default false: targets are -1. */
  withLabels?: boolean;
  /** Batch size. Default the validation loader's (64 for a loaded learner). */
  bs?: number;
  /** `'error'` (default) stops at an image that cannot be read; `'skip'` leaves it out and lists it in `dl.dataset.skipped`. */
  onBadImage?: OnBadImage;
  /** Refuse images with more pixels. Default 100,000,000. */
  limitInputPixels?: number;
  /** Decode SVG and PDF too. Default false. */
  allowVector?: boolean;
  /** Progress of checking the files, shown when that takes over a second. Default true (a learner's `testDl`: its `progress`). */
  progress?: boolean;
}

/** How a model's inputs are made: the validation path of a DataLoaders, or an export's. */
export interface Preprocessing {
  vocab: readonly string[];
  multiLabel: boolean;
  itemTfms: readonly ItemTransform[];
  /** Batch transforms without Normalize (only their validation behaviour runs). */
  batchTfms: readonly BatchTransform[];
  normalize: () => NormStats | undefined;
}

/**
 * A DataLoader over new items through the validation transforms (fastai's `test_dl`):
 * in order, every item, nothing random. Paths are read as they are (no data folder:
 * the caller chose these files); Buffers are decoded from memory.
 */
export async function makeTestDl(items: readonly TestItem[], pre: Preprocessing, opts: TestDlOptions = {}): Promise<DataLoader> {
  return (await buildTestDl(items, pre, opts)).dl;
}

/** A test DataLoader, with which input each of its items is and the inputs left out up front (missing files). */
export interface BuiltTestDl {
  dl: DataLoader;
  /** Dataset index → index in the input list. */
  inputOf: number[];
  /** Inputs that could not be read before loading (with `onBadImage: 'skip'`). */
  missing: { input: number; reason: string }[];
}

/** {@link makeTestDl}, keeping track of which input each item is. */
export async function buildTestDl(items: readonly TestItem[], pre: Preprocessing, opts: TestDlOptions = {}): Promise<BuiltTestDl> {
  if (!Array.isArray(items) || items.length === 0) throw new FastvisionError('BAD_DATA', 'fastvision: testDl needs a non-empty array of image paths or Buffers');
  const withLabels = opts.withLabels ?? false;
  const onBadImage = opts.onBadImage ?? 'error';
  const sources = items.map((it, i) => {
    const labelled = it != null && typeof it === 'object' && !Buffer.isBuffer(it);
    if (labelled !== withLabels) {
      throw new FastvisionError('BAD_DATA', withLabels ? `fastvision: test item ${i + 1} has no label: with withLabels, give { item, label }` : `fastvision: test item ${i + 1} is an object: give paths or Buffers, or pass withLabels: true for { item, label }`);
    }
    const src = labelled ? (it as { item: string | Buffer }).item : (it as string | Buffer);
    if (typeof src !== 'string' && !Buffer.isBuffer(src)) throw new FastvisionError('BAD_DATA', `fastvision: test item ${i + 1} is ${typeof src}, expected a path or a Buffer`);
    return { src, label: labelled ? (it as { label: string | string[] }).label : undefined, origin: typeof src === 'string' ? src : `buffer ${i + 1}` };
  });
  const paths = sources.map((s, i) => ({ i, file: resolve(String(s.src)), origin: s.origin })).filter((_, i) => typeof sources[i]!.src === 'string');
  const stat = await statItems(paths, onBadImage === 'skip', opts.progress ?? true);
  const skipped: SkippedItem[] = [...stat.skipped];
  const byIndex = new Map(paths.map((p, k) => [p.i, stat.items[k]]));
  const kept: { item: ImageItem; label: string | string[] | undefined; input: number }[] = [];
  const missing: BuiltTestDl['missing'] = [];
  sources.forEach((s, i) => {
    const item: ImageItem | undefined = Buffer.isBuffer(s.src) ? { file: s.origin, origin: s.origin, mtimeMs: 0, bytes: s.src.length, buffer: s.src } : byIndex.get(i);
    if (item) kept.push({ item, label: s.label, input: i });
    else missing.push({ input: i, reason: stat.skipped.find((k) => k.origin === s.origin)?.reason ?? 'cannot be read' });
  });
  const targets = withLabels ? encodeTargets(kept.map((k) => k.label!), pre, kept) : kept.map(() => -1);
  // One pass: no point keeping decoded images in memory.
  const dataset = new ImageDataset(kept.map((k) => k.item), targets, pre.vocab, pre.itemTfms, new ImageCache({ memoryBytes: 0 }), onBadImage, skipped, opts.limitInputPixels ?? defaultLimitInputPixels, opts.allowVector ?? false, new Set(), withLabels);
  const dl = new DataLoader(dataset, kept.map((_, i) => i), { bs: opts.bs ?? 64, shuffle: false, dropLast: false, split: 'valid', batchTfms: pre.batchTfms, normalize: pre.normalize });
  return { dl, inputOf: kept.map((k) => k.input), missing };
}

function encodeTargets(labels: readonly (string | string[])[], pre: Preprocessing, kept: readonly { item: ImageItem }[]): number[] | number[][] {
  const where = (i: number) => kept[i]!.item.origin;
  if (!pre.multiLabel) {
    const bad = labels.findIndex((l) => typeof l !== 'string');
    if (bad >= 0) throw new FastvisionError('BAD_DATA', `fastvision: test item ${where(bad)} has a list of labels; this model is single-label`);
    return encodeLabels(labels as string[], pre.vocab, where);
  }
  return labels.map((ls, i) => {
    const hot = new Array<number>(pre.vocab.length).fill(0);
    for (const k of encodeLabels(typeof ls === 'string' ? [ls] : ls, pre.vocab, () => where(i))) hot[k] = 1;
    return hot;
  });
}
