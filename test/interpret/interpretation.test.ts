import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { ClassificationInterpretation, type InterpretationData } from '../../src/interpret/classificationInterpretation.js';
import { formatClassificationReport } from '../../src/interpret/report.js';
import { tempDir } from '../helpers/images.js';
import { expectPicture } from '../helpers/pictures.js';
import { tinyLearner } from '../learner/tiny.js';

const dir = tempDir('fastvision-interp-');
const vocab = ['metal', 'pop', 'rap'];
// Hand-made predictions. Item: actual → predicted (max prob), loss.
//  0: metal → metal   1: metal → rap   2: metal → rap   3: rap → rap   4: rap → metal
//  5: rap → rap       6: metal → metal (pop: never predicted, never actual... except item 7)
//  7: pop → metal
const probs = [
  [0.9, 0.05, 0.05], [0.2, 0.1, 0.7], [0.3, 0.1, 0.6], [0.1, 0.1, 0.8],
  [0.6, 0.1, 0.3], [0.2, 0.2, 0.6], [0.8, 0.1, 0.1], [0.5, 0.4, 0.1],
];
const targs = [0, 0, 0, 2, 2, 2, 0, 1];
const losses = targs.map((t, i) => -Math.log(probs[i]![t]!));
/** Item i is a solid colour (i·30, 255 − i·30, 128): its pixels say which item a grid cell shows. */
const colorOf = (i: number) => [i * 30, 255 - i * 30, 128];
const image = async (i: number) => {
  const pixels = new Uint8Array(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) pixels.set(colorOf(i), p * 3);
  return { pixels, width: 32, height: 32 };
};
const data: InterpretationData = { vocab, probs, targs, losses, image };

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('ClassificationInterpretation numbers', () => {
  const interp = new ClassificationInterpretation(data);

  it('confusion matrix: rows actual, columns predicted; normalised rows sum to 1', () => {
    expect(interp.confusionMatrix()).toEqual([
      [2, 0, 2],
      [1, 0, 0],
      [1, 0, 2],
    ]);
    const norm = interp.confusionMatrix({ normalize: true });
    expect(norm[0]).toEqual([0.5, 0, 0.5]);
    expect(norm[2]![2]).toBeCloseTo(2 / 3, 15);
  });

  it('mostConfused: most first, with minVal', () => {
    expect(interp.mostConfused()).toEqual([
      ['metal', 'rap', 2],
      ['pop', 'metal', 1],
      ['rap', 'metal', 1],
    ]);
    expect(interp.mostConfused(2)).toEqual([['metal', 'rap', 2]]);
  });

  it('topLosses: largest first, ties in item order, or smallest first', () => {
    const tied = new ClassificationInterpretation({ ...data, losses: [1, 3, 2, 3, 0, 0, 0, 0] });
    expect(tied.topLosses(3)).toEqual({ losses: [3, 3, 2], indices: [1, 3, 2] });
    expect(tied.topLosses(2, { largest: false })).toEqual({ losses: [0, 0], indices: [4, 5] });
    expect(interp.topLosses().indices).toHaveLength(8);
  });

  it('classification report as computed by hand; a never-predicted class reports 0, not NaN', () => {
    const r = interp.classificationReport();
    // metal: tp 2, predicted 4 (items 0, 4, 6, 7), actual 4 → p .5 r .5 f1 .5
    expect(r.classes[0]).toEqual({ label: 'metal', precision: 0.5, recall: 0.5, f1: 0.5, support: 4 });
    // pop: never predicted → precision 0 (zero_division=0), recall 0, f1 0
    expect(r.classes[1]).toEqual({ label: 'pop', precision: 0, recall: 0, f1: 0, support: 1 });
    // rap: tp 2, predicted 4 (1, 2, 3, 5), actual 3 → p .5, r 2/3, f1 4/7
    expect(r.classes[2]!.precision).toBe(0.5);
    expect(r.classes[2]!.recall).toBeCloseTo(2 / 3, 15);
    expect(r.classes[2]!.f1).toBeCloseTo(4 / 7, 15);
    expect(r.accuracy).toBe(4 / 8);
    expect(r.macroAvg.precision).toBeCloseTo(1 / 3, 15);
    expect(r.macroAvg.f1).toBeCloseTo((0.5 + 0 + 4 / 7) / 3, 15);
    expect(r.weightedAvg.recall).toBeCloseTo((0.5 * 4 + 0 + (2 / 3) * 3) / 8, 15);
    const text = formatClassificationReport(r);
    expect(text.split('\n')[0]).toBe('              precision    recall  f1-score   support');
    expect(text).toContain('       metal       0.50      0.50      0.50         4');
    expect(text).toContain('    accuracy                           0.50         8');
    expect(text).not.toContain('NaN');
  });
});

describe('ClassificationInterpretation pictures', () => {
  const interp = new ClassificationInterpretation(data);
  it('plotConfusionMatrix writes a readable heatmap, counts or normalised', async () => {
    const file = await interp.plotConfusionMatrix({ file: join(dir, 'cm.png') });
    await expectPicture(file, { minWidth: 200, maxWidth: 1600, minHeight: 200, maxHeight: 1600 });
    await expectPicture(await interp.plotConfusionMatrix({ normalize: true, file: join(dir, 'cm-norm.png') }), { minWidth: 200, maxWidth: 1600, minHeight: 200, maxHeight: 1600 });
  });

  it('plotTopLosses shows the worst item first', async () => {
    const worst = interp.topLosses(1).indices[0]!; // item 1: metal with p(metal) = 0.2, loss 1.61
    const file = await interp.plotTopLosses(4, { file: join(dir, 'top-losses.png') });
    await expectPicture(file, { minWidth: 200, maxWidth: 2000, minHeight: 150, maxHeight: 2000 });
    // First cell: below the title (34 px) and caption (26 px), inside the 128 px image.
    const { data: px } = await sharp(file).extract({ left: 60, top: 34 + 26 + 60, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
    expect([...px.subarray(0, 3)]).toEqual(colorOf(worst));
  });

  it('plotTopPredictions shows the item scored highest for the class first', async () => {
    const file = await interp.plotTopPredictions('rap', { k: 3, ds: 'valid', file: join(dir, 'most-rap.png') });
    await expectPicture(file, { minWidth: 150, maxWidth: 2000, minHeight: 150, maxHeight: 2000 });
    const { data: px } = await sharp(file).extract({ left: 60, top: 34 + 26 + 60, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
    expect([...px.subarray(0, 3)]).toEqual(colorOf(3)); // p(rap) = .8
    await expect(interp.plotTopPredictions('jazz', { file: join(dir, 'x.png') })).rejects.toThrow("'jazz' is not a class");
  });

  it('from a learner: numbers agree with getPreds, and the recorder plots loss and schedule', async () => {
    const learn = await tinyLearner();
    await learn.fitOneCycle(2, 1e-2);
    const fromLearner = await ClassificationInterpretation.fromLearner(learn);
    expect(fromLearner.targs).toHaveLength(learn.dls.valid.n);
    expect(fromLearner.confusionMatrix().flat().reduce((a, b) => a + b, 0)).toBe(learn.dls.valid.n);
    await expectPicture(await fromLearner.plotTopLosses(2, { file: join(dir, 'learner-top.png') }), { minWidth: 100, maxWidth: 2000, minHeight: 100, maxHeight: 2000 });
    await expectPicture(await fromLearner.plotTopPredictions('red', { k: 4, file: join(dir, 'most-red.png') }), { minWidth: 100, maxWidth: 2000, minHeight: 100, maxHeight: 2000 });
    await expectPicture(await learn.recorder.plotLoss({ skipStart: 0, file: join(dir, 'loss.png') }), { minWidth: 300, maxWidth: 2000, minHeight: 200, maxHeight: 1200 });
    await expectPicture(await learn.recorder.plotSched({ file: join(dir, 'sched.png') }), { minWidth: 500, maxWidth: 3000, minHeight: 200, maxHeight: 1200 });
  });
});
