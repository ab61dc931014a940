import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { Callback } from '../../src/learner/callback.js';
import { loadLearner } from '../../src/learner/export.js';
import { slice } from '../../src/learner/hyper.js';
import type { LossFunc } from '../../src/learner/losses.js';
import { crossEntropyLossFlat } from '../../src/learner/losses.js';
import { accuracy, accuracyMulti, avgMetric, errorRate, F1Score, Precision, Recall } from '../../src/learner/metrics.js';
import { Adam } from '../../src/learner/optimizer.js';
import { tempDir } from '../helpers/images.js';
import { tinyLearner } from './tiny.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

/** Records every group's lr and mom at each training batch, after the schedulers ran. */
class HyperLog extends Callback {
  override order = 100;
  lrs: number[][] = [];
  moms: number[][] = [];
  trainable: number[] = [];
  override beforeBatch(): void {
    if (!this.learn.training) return;
    this.lrs.push(this.learn.opt.hypers.map((h) => h.lr));
    this.moms.push(this.learn.opt.hypers.map((h) => h.mom));
    this.trainable.push(this.learn.trainableVariables().length);
  }
}

/** fastai's one-cycle value at pos, written out independently of the implementation. */
function oneCycle(pos: number, pct: number, a: number, b: number, c: number): number {
  const cos = (s: number, e: number, p: number) => s + ((1 + Math.cos(Math.PI * (1 - p))) * (e - s)) / 2;
  return pos < pct ? cos(a, b, pos / pct) : cos(b, c, (pos - pct) / (1 - pct));
}

describe('fitOneCycle and fineTune schedules', () => {
  it('lr and momentum follow fastai’s one-cycle per iteration, per group (to 1e-12)', async () => {
    const learn = await tinyLearner();
    const log = new HyperLog();
    await learn.fitOneCycle(2, slice(1e-3), { cbs: [log] });
    const n = learn.dls.train.length * 2; // 20 train items, bs 4 → 5 batches an epoch
    expect(log.lrs).toHaveLength(n);
    const maxes = [1e-4, 1e-4, 1e-3];
    const boundary = log.lrs.findIndex((_, i) => i / n >= 0.25);
    for (const i of [0, boundary - 1, boundary, n - 1]) {
      maxes.forEach((m, g) => expect(Math.abs(log.lrs[i]![g]! - oneCycle(i / n, 0.25, m / 25, m, m / 1e5))).toBeLessThan(1e-12 * m));
      expect(Math.abs(log.moms[i]![0]! - oneCycle(i / n, 0.25, 0.95, 0.85, 0.95))).toBeLessThan(1e-12);
    }
    expect(log.lrs[0]).toEqual(maxes.map((m) => m / 25));
    expect(log.moms[0]![0]).toBe(0.95);
    // The recorder keeps the last group's values per iteration.
    expect(learn.recorder.lrs).toEqual(log.lrs.map((l) => l[2]));
    expect(learn.recorder.moms).toEqual(log.moms.map((m) => m[2]));
  });

  it('fineTune: frozen at slice(2e-3) with pctStart 0.99, then unfrozen at slice(1e-5, 1e-3) with div 5', async () => {
    const learn = await tinyLearner();
    const log = new HyperLog();
    await learn.fineTune(1, 2e-3, { cbs: [log] });
    const n = learn.dls.train.length;
    expect(log.lrs[0]).toEqual([2e-4 / 25, 2e-4 / 25, 2e-3 / 25]);
    expect(log.lrs[n - 1]![2]).toBeCloseTo(oneCycle((n - 1) / n, 0.99, 2e-3 / 25, 2e-3, 2e-3 / 1e5), 15);
    const second = log.lrs[n]!;
    [1e-5, 1e-4, 1e-3].forEach((m, g) => expect(second[g]).toBeCloseTo(m / 5, 17));
    // Second phase: pctStart 0.3, div 5, divFinal 1e5, at every iteration (to 1e-12 of lr_max).
    for (let i = 0; i < n; i++) {
      [1e-5, 1e-4, 1e-3].forEach((m, g) => expect(Math.abs(log.lrs[n + i]![g]! - oneCycle(i / n, 0.3, m / 5, m, m / 1e5))).toBeLessThan(1e-12 * m));
    }
    // Frozen phase trains the head and the (frozen group's) BatchNorm; then everything.
    expect(log.trainable[0]).toBe(2 + 2);
    expect(log.trainable[n]).toBe(2 + 2 + 2);
  });
});

describe('fastai’s Adam', () => {
  it('one step: decoupled weight decay, debiased moments, no decay on bias and BatchNorm parameters', () => {
    const w = tf.variable(tf.tensor1d([1, -2]), true, 'adam_w');
    const b = tf.variable(tf.tensor1d([0.5]), true, 'adam_b');
    const opt = new Adam([{ params: [w, b], noWd: new Set([b]) }], 0.1, { wd: 0.01, mom: 0.9, sqrMom: 0.99, eps: 1e-5 });
    const g = { adam_w: tf.tensor1d([0.2, -0.4]), adam_b: tf.tensor1d([1]) };
    opt.step(g);
    const expected = (p: number, grad: number, wd: number) => {
      const decayed = p * (1 - 0.1 * wd);
      const avg = 0.1 * grad;
      const sqr = 0.01 * grad * grad;
      return decayed - (0.1 / (1 - 0.9)) * (avg / (Math.sqrt(sqr / (1 - 0.99)) + 1e-5));
    };
    const wv = w.dataSync();
    expect(wv[0]).toBeCloseTo(expected(1, 0.2, 0.01), 6);
    expect(wv[1]).toBeCloseTo(expected(-2, -0.4, 0.01), 6);
    expect(b.dataSync()[0]).toBeCloseTo(expected(0.5, 1, 0), 6);
    opt.step(g); // second step: debiasing with t = 2
    const avg2 = 0.9 * 0.02 + 0.1 * 0.2;
    const sqr2 = 0.99 * 0.0004 + 0.01 * 0.04;
    const w1 = expected(1, 0.2, 0.01);
    expect(w.dataSync()[0]).toBeCloseTo(w1 * (1 - 0.001) - (0.1 / (1 - 0.81)) * (avg2 / (Math.sqrt(sqr2 / (1 - 0.99 ** 2)) + 1e-5)), 6);
    opt.dispose();
    tf.dispose([w, b, g.adam_w, g.adam_b]);
  });

  it('the learner exempts BatchNorm and biases from weight decay, and starts with β1 0.9, β2 0.99, eps 1e-5, wd 0.01, lr 1e-3', async () => {
    const learn = await tinyLearner();
    expect(learn.opt.hypers[0]).toEqual({ lr: 1e-3, mom: 0.9, sqrMom: 0.99, eps: 1e-5, wd: 0.01 });
    const noWd = learn.opt.groups.flatMap((g) => [...g.noWd].map((v) => v.name));
    expect(noWd.some((n) => n.includes('conv/bias'))).toBe(true);
    expect(noWd.some((n) => n.includes('bn/gamma'))).toBe(true);
    expect(noWd.some((n) => n.includes('dense/kernel'))).toBe(false);
  });
});

describe('freezing', () => {
  it('freeze trains the head and frozen groups’ BatchNorm; the frozen conv does not move; state is cleared', async () => {
    const learn = await tinyLearner();
    await learn.fit(1, 1e-3);
    expect(learn.opt.snapshot().state.size).toBeGreaterThan(0);
    learn.freeze();
    expect(learn.opt.snapshot().state.size).toBe(0);
    const names = () => learn.trainableVariables().map((v) => v.name.split('/').slice(-2).join('/').replace(/_\d+$/, ''));
    expect(names()).toEqual(['bn/gamma', 'bn/beta', 'dense/kernel', 'dense/bias']);
    const conv = () => Array.from(learn.model.getLayer('conv').getWeights()[0]!.dataSync());
    const gamma = () => Array.from(learn.model.getLayer('bn').getWeights()[0]!.dataSync());
    const [c0, g0] = [conv(), gamma()];
    await learn.fit(1, 1e-2);
    expect(conv()).toEqual(c0);
    expect(gamma()).not.toEqual(g0);
    learn.freezeTo(1);
    expect(names()).toEqual(['bn/gamma', 'bn/beta', 'dense/kernel', 'dense/bias']);
    learn.unfreeze();
    expect(learn.trainableVariables()).toHaveLength(6);
    learn.trainBn = false;
    learn.freeze();
    expect(names()).toEqual(['dense/kernel', 'dense/bias']);
  });
});

describe('training loop', () => {
  it('a NaN loss stops training with the epoch, iteration and lr', async () => {
    let calls = 0;
    const ce = crossEntropyLossFlat();
    const nanAtThird = Object.assign((p: tf.Tensor, t: tf.Tensor, r?: 'mean' | 'none') => (++calls === 3 ? tf.mul(ce(p, t, r), Number.NaN) : ce(p, t, r)), {
      activation: ce.activation,
      decodes: ce.decodes,
    }) as LossFunc;
    const learn = await tinyLearner({ lossFunc: nanAtThird });
    await expect(learn.fit(1, 3e-3)).rejects.toThrow('the training loss is NaN at epoch 0, iteration 2 (lr 3.000e-3, 3.000e-3, 3.000e-3); training stopped');
  });

  it('fewer training images than one batch is a clear error, for fit and lrFind alike (not an endless loop)', async () => {
    const learn = await tinyLearner({}, 32);
    const message = /the training set has 20 images, fewer than one batch of 32 .*use a batch size of at most 20/;
    await expect(learn.fit(1)).rejects.toThrow(message);
    await expect(learn.lrFind()).rejects.toThrow(message);
  });

  it('holds the same number of tensors at the end of epochs 1, 2 and 3', async () => {
    const learn = await tinyLearner({ metrics: [accuracy] });
    const counts: number[] = [];
    class Count extends Callback {
      override order = 100;
      override afterEpoch() {
        counts.push(tf.memory().numTensors);
      }
    }
    await learn.fitOneCycle(3, 1e-3, { cbs: [new Count()] });
    expect(counts).toHaveLength(3);
    expect(new Set(counts).size).toBe(1);
  });

  it('callbacks can cancel a batch or the fit', async () => {
    const learn = await tinyLearner();
    const { CancelBatchException, CancelFitException } = await import('../../src/learner/callback.js');
    class SkipOdd extends Callback {
      override beforeBatch() {
        if (this.learn.training && this.learn.iter % 2) throw new CancelBatchException();
      }
    }
    class StopAfter3 extends Callback {
      override afterBatch() {
        if (this.learn.trainIter === 3) throw new CancelFitException();
      }
    }
    const w = Array.from(learn.model.getLayer('dense').getWeights()[0]!.dataSync());
    await learn.fit(5, 1e-3, { cbs: [new SkipOdd(), new StopAfter3()] });
    expect(learn.trainIter).toBe(3);
    // Cancelled in the first epoch: as in fastai, afterEpoch still runs (the recorder
    // logs the train loss), and validation does not.
    expect(learn.recorder.values).toHaveLength(1);
    expect(learn.recorder.values[0]).toHaveLength(1);
    expect(Array.from(learn.model.getLayer('dense').getWeights()[0]!.dataSync())).not.toEqual(w);
  });
});

describe('metrics (batch-size weighted over the validation set)', () => {
  const pred = () => tf.tensor2d([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]]);
  const targ = () => tf.tensor1d([0, 0, 0, 1, 1], 'int32');
  it('accuracy and error_rate, weighted by batch size across batches', async () => {
    const m = avgMetric(accuracy, 'accuracy');
    m.reset();
    const [p, t] = [pred(), targ()];
    m.accumulate(p.slice([0, 0], [4, 2]), t.slice(0, 4)); // 3 of 4
    m.accumulate(p.slice([4, 0], [1, 2]), t.slice(4, 1)); // 0 of 1
    expect(await m.value()).toBeCloseTo(3 / 5, 6);
    expect(errorRate(p, t).dataSync()[0]).toBeCloseTo(2 / 5, 6);
    tf.dispose([p, t]);
  });
  it('precision, recall, F1: binary (class 1) and macro', async () => {
    // predicted 0,1,0,1,0 vs actual 0,0,0,1,1: class 1 tp 1 fp 1 fn 1; class 0 tp 2 fp 1 fn 1
    const [p, t] = [pred(), targ()];
    const value = async (m: ReturnType<typeof F1Score>) => {
      m.reset();
      m.accumulate(p, t);
      const v = await m.value();
      m.reset(); // frees the counts kept on the backend
      return v;
    };
    const before = tf.memory().numTensors;
    expect(await value(Precision())).toBeCloseTo(0.5, 12);
    expect(await value(Recall())).toBeCloseTo(0.5, 12);
    expect(await value(F1Score())).toBeCloseTo(0.5, 12);
    expect(await value(Precision({ average: 'macro' }))).toBeCloseTo((2 / 3 + 1 / 2) / 2, 12);
    expect(await value(F1Score({ average: 'macro' }))).toBeCloseTo((4 / 6 + 2 / 4) / 2, 12);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([p, t]);
  });
  it('accuracyMulti thresholds sigmoid outputs', () => {
    const v = accuracyMulti(0.5)(tf.tensor2d([[3, -3], [-1, 2]]), tf.tensor2d([[1, 0], [1, 1]]));
    expect(v.dataSync()[0]).toBeCloseTo(3 / 4, 6);
  });
});

describe('inference and exports', () => {
  it('getPreds: probabilities, targets, per-item losses and decoded classes, in order', async () => {
    const learn = await tinyLearner();
    await learn.fit(2, 1e-2);
    const before = tf.memory().numTensors;
    const { preds, targs, losses, decoded, indices } = await learn.getPreds({ withLoss: true, withDecoded: true });
    expect(preds.shape).toEqual([4, 2]);
    expect(indices).toEqual([...learn.dls.valid.indices]);
    tf.tidy(() => tf.sum(preds, 1).dataSync()).forEach((s) => expect(s).toBeCloseTo(1, 5));
    const expectedLoss = tf.tidy(() => tf.neg(tf.log(tf.sum(tf.mul(preds, tf.oneHot(targs as tf.Tensor1D, 2)), 1))));
    Array.from(losses!.dataSync()).forEach((l, i) => expect(l).toBeCloseTo(expectedLoss.dataSync()[i]!, 4));
    expect(Array.from(decoded!.dataSync())).toEqual(Array.from(tf.tidy(() => tf.argMax(preds, 1).dataSync())));
    tf.dispose([preds, targs, losses!, decoded!, expectedLoss]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a corrupt or mismatched export is a clear error', async () => {
    const learn = await tinyLearner();
    const dir = join(tempDir(), 'exp');
    await learn.export(dir);
    await expect(loadLearner(join(dir, 'nope'))).rejects.toThrow(/is not a fastvision export: the folder does not exist/);
    const meta = JSON.parse(readFileSync(join(dir, 'fastvision.json'), 'utf8'));
    const weightsFile = join(dir, meta.files.weights);
    const bin = readFileSync(weightsFile);
    writeFileSync(weightsFile, bin.subarray(0, bin.byteLength - 8));
    await expect(loadLearner(dir)).rejects.toThrow(/weights '.*weights\.[0-9a-f]{12}\.bin' has \d+ bytes; \d+ were expected/);
    writeFileSync(weightsFile, bin);
    writeFileSync(join(dir, 'fastvision.json'), JSON.stringify({ ...meta, vocab: ['a', 'b', 'c'] }));
    await expect(loadLearner(dir)).rejects.toThrow('the model has 2 outputs but the vocab has 3 classes');
    writeFileSync(join(dir, 'fastvision.json'), '{ not json');
    await expect(loadLearner(dir)).rejects.toThrow(/fastvision\.json' is not JSON/);
  });
});
