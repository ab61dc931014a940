import * as tf from '../core/tf.js';
import { writeLineChart, type MarkedPoint } from '../plot/lineChart.js';
import { expandHyper, slice, type HyperValue } from './hyper.js';
import type { FineTuneOptions, FitOneCycleOptions, FitOptions, Learner, LrFindOptions, LrFindResult } from './learner.js';
import { LRFinder, suggestionFuncs } from './lrFinder.js';
import { ParamScheduler } from './scheduler.js';
import { combinedCos } from './schedules.js';

/**
 * fastai's `callback/schedule.py` for the Learner: `fit_one_cycle`, `fine_tune` and
 * `lr_find` are a schedule callback (or the LR finder) around a plain `fit`.
 */

/**
 * fastai's one-cycle policy: per iteration, the lr rises by cosine from lrMax/div to
 * lrMax over the first `pctStart` of training, then falls by cosine to lrMax/divFinal;
 * momentum moves the opposite way through `moms`.
 */
export async function fitOneCycle(learn: Learner, nEpoch: number, lrMax: HyperValue = learn.lr, opts: FitOneCycleOptions = {}): Promise<void> {
  const { div = 25, divFinal = 1e5, pctStart = 0.25, moms = learn.moms, ...fitOpts } = opts;
  const maxes = expandHyper(lrMax, learn.nGroups, 'lrMax');
  const scheds = new ParamScheduler({
    lr: maxes.map((m) => combinedCos(pctStart, m / div, m, m / divFinal)),
    mom: maxes.map(() => combinedCos(pctStart, moms[0], moms[1], moms[2])),
  });
  await learn.fit(nEpoch, learn.lr, { ...fitOpts, cbs: [scheds, ...(opts.cbs ?? [])] });
}

/** fastai's `fine_tune`: one-cycle with the body frozen, then unfrozen with discriminative lrs. */
export async function fineTune(learn: Learner, epochs: number, baseLr = 2e-3, opts: FineTuneOptions = {}): Promise<void> {
  const { freezeEpochs = 1, lrMult = 100, pctStart = 0.3, div = 5, ...rest } = opts;
  learn.freeze();
  await fitOneCycle(learn, freezeEpochs, slice(baseLr), { ...rest, pctStart: 0.99 });
  const lr = baseLr / 2;
  learn.unfreeze();
  await fitOneCycle(learn, epochs, slice(lr / lrMult, lr), { ...rest, pctStart, div });
}

/**
 * fastai's LR finder: trains at exponentially growing lrs from `startLr` to `endLr`
 * over `numIt` iterations (stopping when the loss diverges), then restores the
 * model and optimizer exactly and returns the suggestions.
 */
export async function lrFind(learn: Learner, opts: LrFindOptions = {}): Promise<LrFindResult> {
  const { startLr = 1e-7, endLr = 10, numIt = 100, stopDiv = true, suggestFuncs = ['valley'], plot, progress } = opts;
  const weights = learn.model.weights.map((w) => tf.clone(w.read()));
  const optState = learn.opt.snapshot();
  const logger = learn.logger;
  const nEpoch = Math.floor(numIt / learn.dls.train.length) + 1;
  const finder = new LRFinder(Array(learn.nGroups).fill(startLr), Array(learn.nGroups).fill(endLr), Math.max(numIt, 6), stopDiv);
  learn.logger = () => {};
  try {
    await learn.fit(nEpoch, learn.lr, { cbs: [finder], quiet: true, allowNonFinite: true, progress } as FitOptions);
  } finally {
    learn.logger = logger;
    learn.model.weights.forEach((w, i) => w.write(weights[i]!));
    tf.dispose(weights);
    learn.opt.restore(optState);
  }
  const rec = learn.recorder;
  const lrs = rec.lrs.slice(Math.floor(numIt / 10), -5);
  let losses = rec.losses.slice(Math.floor(numIt / 10), -5);
  const nan = losses.findIndex((l) => Number.isNaN(l));
  if (nan >= 0) losses = losses.slice(0, nan);
  const result: LrFindResult = { lrs: rec.lrs.slice(), losses: rec.losses.slice() };
  const marks: MarkedPoint[] = [];
  for (const name of suggestFuncs) {
    if (!losses.length) {
      result[name] = Number.NaN;
      continue;
    }
    const [lr, [x, y]] = suggestionFuncs[name](lrs.slice(0, losses.length), losses, numIt);
    result[name] = lr;
    marks.push({ name, x, y });
  }
  if (plot) {
    // fastai's plot_lr_find: the curve without its last 5 points, log x axis, suggestions marked.
    const end = Math.max(1, result.lrs.length - 5);
    await writeLineChart({
      series: [{ name: 'loss', x: result.lrs.slice(0, end), y: result.losses.slice(0, end) }],
      points: marks,
      xLog: true,
      xTitle: 'Learning Rate',
      yTitle: 'Loss',
      file: plot,
    });
  }
  return result;
}
