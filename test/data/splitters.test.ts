import { describe, expect, it } from 'vitest';
import { colSplitter, funcSplitter, grandparentSplitter, randomSplitter, stratifiedSplitter } from '../../src/data/splitters.js';

describe('randomSplitter', () => {
  it('gives the same split for the same seed on every run and machine', () => {
    // Pinned: seedrandom('42') is the same stream everywhere, so this list never changes.
    expect(randomSplitter(0.2, 42)(20)).toEqual([
      [9, 13, 10, 5, 1, 4, 18, 2, 8, 12, 11, 14, 6, 17, 3, 0],
      [15, 19, 16, 7],
    ]);
    expect(randomSplitter(0.2, 42)(1000)).toEqual(randomSplitter(0.2, 42)(1000));
    expect(randomSplitter(0.2, 43)(1000)).not.toEqual(randomSplitter(0.2, 42)(1000));
  });

  it('sends floor(validPct · n) items to validation and the rest to training, each once', () => {
    for (const [pct, n] of [[0.2, 9656], [0.25, 7], [0.5, 3], [0.9, 11]] as const) {
      const [train, valid] = randomSplitter(pct, 1)(n);
      expect(valid).toHaveLength(Math.floor(pct * n));
      expect(train).toHaveLength(n - Math.floor(pct * n));
      expect([...train, ...valid].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });

  it('without a seed, differs between calls (as fastai with seed=None)', () => {
    expect(randomSplitter(0.2)(1000)).not.toEqual(randomSplitter(0.2)(1000));
  });

  it.each([0, 1, -0.1, 1.5, Number.NaN])('rejects validPct %s, naming it', (pct) => {
    expect(() => randomSplitter(pct, 1)).toThrow(`validPct must be a number in (0, 1), got ${pct}`);
  });
});

describe('stratifiedSplitter and colSplitter', () => {
  it('keeps each class share in validation', () => {
    const labels = [...Array(80).fill('metal'), ...Array(20).fill('rap')];
    const [train, valid] = stratifiedSplitter(labels, 0.2, 7)(100);
    expect(valid.filter((i) => labels[i] === 'metal')).toHaveLength(16);
    expect(valid.filter((i) => labels[i] === 'rap')).toHaveLength(4);
    expect(train).toHaveLength(80);
  });

  it('colSplitter sends flagged items to validation', () => {
    expect(colSplitter([false, true, false, true])(4)).toEqual([[0, 2], [1, 3]]);
  });
});

describe('splitters that read the items (DataBlock passes them the item list)', () => {
  const items = ['data/train/cat/1.jpg', 'data/valid/dog/2.jpg', 'data/test/cat/3.jpg', 'data/train/dog/4.jpg', 'data/val/cat/5.jpg'];

  it('randomSplitter splits an item list exactly as it splits its count', () => {
    expect(randomSplitter(0.4, 42)(items)).toEqual(randomSplitter(0.4, 42)(items.length));
    expect(colSplitter([true, false, false, false, true])(items)).toEqual([[1, 2, 3], [0, 4]]);
  });

  it('grandparentSplitter splits by the folder above the class folder; other folders are in neither set', () => {
    expect(grandparentSplitter()(items)).toEqual([[0, 3], [1]]);
    // fastai's order: each name in turn, item order within a name.
    expect(grandparentSplitter({ trainName: ['train', 'test'], validName: ['val', 'valid'] })(items)).toEqual([[0, 3, 2], [4, 1]]);
  });

  it('funcSplitter sends the items the function is true for to validation', () => {
    expect(funcSplitter((f: string) => f.endsWith('4.jpg') || f.includes('/valid/'))(items)).toEqual([[0, 2, 4], [1, 3]]);
    expect(() => funcSplitter('valid' as never)).toThrow('funcSplitter takes a function item → boolean, got string');
  });
});
