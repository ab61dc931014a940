import { describe, expect, it } from 'vitest';
import { evenMults, expandHyper, slice } from '../../src/learner/hyper.js';
import { combinedCos, combineScheds, schedCos, schedExp, schedLin, schedNo, schedPoly } from '../../src/learner/schedules.js';

describe('learning rates across layer groups, as fastai', () => {
  it('a number applies to every group', () => {
    expect(expandHyper(3e-3, 3, 'lr')).toEqual([3e-3, 3e-3, 3e-3]);
  });
  it('slice(hi) gives earlier groups hi/10', () => {
    expect(expandHyper(slice(1e-2), 3, 'lr')).toEqual([1e-2 / 10, 1e-2 / 10, 1e-2]);
  });
  it('slice(lo, hi) is geometric (even_mults)', () => {
    const [a, b, c] = expandHyper(slice(1e-4, 1e-2), 3, 'lr');
    expect(a).toBe(1e-4);
    expect(b).toBeCloseTo(1e-3, 15);
    expect(c).toBeCloseTo(1e-2, 15);
    expect(evenMults(1e-5, 1e-3, 3)).toEqual([1e-5, 1e-5 * (1e-3 / 1e-5) ** 0.5, 1e-5 * ((1e-3 / 1e-5) ** 0.5) ** 2]);
    expect(evenMults(1e-5, 1e-3, 1)).toEqual([1e-3]);
    expect(expandHyper(slice(0, 1e-2), 2, 'lr')).toEqual([1e-3, 1e-2]); // fastai: `if v.start` treats 0 as none
  });
  it('an array needs one value per group, and the error names the group count', () => {
    expect(expandHyper([1, 2, 3], 3, 'wd')).toEqual([1, 2, 3]);
    expect(() => expandHyper([1e-3, 1e-2], 3, 'lr')).toThrow('lr has 2 values but the model has 3 layer groups');
  });
});

describe('annealers, as fastai’s', () => {
  it('lin, cos, no, exp, poly', () => {
    expect(schedLin(1, 3)(0.25)).toBe(1.5);
    expect(schedCos(1, 3)(0)).toBe(1);
    expect(schedCos(1, 3)(1)).toBe(3);
    expect(schedCos(1, 3)(0.5)).toBeCloseTo(2, 15);
    expect(schedCos(0, 1)(0.25)).toBeCloseTo((1 + Math.cos(Math.PI * 0.75)) / 2, 15);
    expect(schedNo(7)(0.3)).toBe(7);
    expect(schedExp(1e-7, 10)(0.5)).toBeCloseTo(1e-7 * (10 / 1e-7) ** 0.5, 18);
    expect(schedPoly(1, 0, 2)(0.5)).toBe(0.75);
  });
  it('combined_cos switches phase at pct', () => {
    const f = combinedCos(0.25, 1, 10, 0);
    expect(f(0)).toBe(1);
    expect(f(0.25)).toBe(10);
    expect(f(1)).toBeCloseTo(0, 15);
    expect(f(0.125)).toBeCloseTo(5.5, 12);
    expect(() => combineScheds([0.5, 0.6], [schedNo(1), schedNo(2)])).toThrow('add up to 1');
  });
});
