import { describe, expect, it } from 'vitest';
import { colSplitter, randomSplitter, stratifiedSplitter } from '../../src/data/splitters.js';

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
