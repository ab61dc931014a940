import { FastvisionError } from '../core/errors.js';

/**
 * Labels ↔ class indices, as fastai's `Categorize` / `MultiCategorize`: the vocab is the
 * sorted unique training labels (numerically when every label is a number).
 */
export function makeVocab(trainLabels: readonly (string | readonly string[])[], numeric: boolean): string[] {
  const unique = new Set<string>();
  for (const l of trainLabels) for (const v of typeof l === 'string' ? [l] : l) unique.add(v);
  const vocab = [...unique];
  return numeric ? vocab.sort((a, b) => Number(a) - Number(b)) : vocab.sort();
}

/** Class index of each label; a label not in the vocab is fastai's error, naming it. */
export function encodeLabels(labels: readonly string[], vocab: readonly string[], where: (i: number) => string): number[] {
  const index = new Map(vocab.map((v, i) => [v, i]));
  return labels.map((l, i) => {
    const k = index.get(l);
    if (k == null) throw new FastvisionError('BAD_DATA', `fastvision: label '${l}' (${where(i)}) was not included in the training dataset`);
    return k;
  });
}
