import { describe, expect, it } from 'vitest';
import { gradient, minimum, slide, steep, valley } from '../../src/learner/lrFinder.js';
import { SmoothLoss } from '../../src/learner/recorder.js';

// Each expected value is worked out by hand from fastai's algorithm (see the comments).
describe('LR-finder suggestion functions', () => {
  it('valley: the longest decreasing run 5,4,3,2,1 (indices 0–5 by fastai’s index arithmetic) → idx 0 + int(5/3) + int(5/6) = 1', () => {
    const losses = [5, 4, 6, 3, 2, 1, 7, 8];
    const lrs = losses.map((_, i) => 10 * (i + 1));
    expect(valley(lrs, losses, 100)).toEqual([20, [20, 4]]);
  });

  it('valley on a two-point decrease: max_start = 1 − 2 = −1, so idx −1 reads the last lr, as Python does', () => {
    expect(valley([1e-3, 1e-2], [3, 2], 100)).toEqual([1e-2, [1e-2, 2]]);
  });

  it('slide: walks left from the end until the loss gradients 15 apart agree → lrs[9]', () => {
    // flat (0) for i ≤ 9, then −1 per step to −10 at i = 19, then flat.
    const losses = Array.from({ length: 30 }, (_, i) => (i <= 9 ? 0 : i <= 19 ? -(i - 9) : -10));
    const lrs = losses.map((_, i) => 10 ** (i / 10 - 3));
    expect(gradient(losses).slice(8, 12)).toEqual([0, -0.5, -1, -1]);
    const [lr, [x, y]] = slide(lrs, losses, 100);
    expect(lr).toBe(lrs[9]);
    expect(x).toBe(lrs[9]);
    expect(y).toBeCloseTo(0, 12);
  });

  it('minimum: the lr of the lowest loss, divided by 10', () => {
    expect(minimum([1, 2, 3, 4, 5], [3, 2, 1, 2, 3], 100)).toEqual([0.3, [3, 1]]);
  });

  it('steep: the left end of the steepest slope in log lr', () => {
    const lrs = [1, Math.E, Math.E ** 2, Math.E ** 3];
    expect(steep(lrs, [5, 4, 1, 0.5], 100)[0]).toBe(Math.E); // slopes −1, −3, −0.5
  });

  it('smoothed loss: an EMA with β = 0.98, debiased', () => {
    const s = new SmoothLoss();
    expect(s.add(1)).toBeCloseTo(1, 14);
    expect(s.add(2)).toBeCloseTo((0.98 * 0.02 + 0.02 * 2) / (1 - 0.98 ** 2), 14);
    expect(s.add(3)).toBeCloseTo((0.98 * (0.98 * 0.02 + 0.04) + 0.06) / (1 - 0.98 ** 3), 14);
  });
});
