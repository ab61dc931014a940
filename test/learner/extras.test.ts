import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { Callback } from '../../src/learner/callback.js';
import { accuracy } from '../../src/learner/metrics.js';
import { CSVLogger, EarlyStoppingCallback, SaveModelCallback } from '../../src/learner/trackers.js';
import { tempDir } from '../helpers/images.js';
import { tinyLearner } from './tiny.js';
import { expectPicture } from '../helpers/pictures.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const weightsOf = (m: tf.LayersModel) => m.weights.map((w) => Array.from(w.read().dataSync()));

describe('lrFind', () => {
  it('trains at start·(end/start)^(i/numIt), stops after numIt, restores everything, with fastai’s defaults', async () => {
    const learn = await tinyLearner({}, 2); // 10 batches an epoch
    await learn.fit(1, 1e-3); // so the optimizer has state to restore
    const weights = weightsOf(learn.model);
    const snap = learn.opt.snapshot();
    const state = [...snap.state.values()].map((s) => [Array.from(s.gradAvg.dataSync()), s.step]);
    const found = await learn.lrFind({ numIt: 30, stopDiv: false, suggestFuncs: ['valley', 'minimum', 'steep', 'slide'] });
    expect(found.lrs).toHaveLength(30);
    found.lrs.forEach((lr, i) => expect(lr).toBeCloseTo(1e-7 * (10 / 1e-7) ** (i / 30), 20));
    expect(weightsOf(learn.model)).toEqual(weights);
    const after = learn.opt.snapshot();
    expect([...after.state.values()].map((s) => [Array.from(s.gradAvg.dataSync()), s.step])).toEqual(state);
    for (const k of ['valley', 'minimum', 'steep', 'slide'] as const) expect(found[k]).toBeGreaterThan(0);
    tf.dispose([...snap.state.values(), ...after.state.values()].flatMap((s) => [s.gradAvg, s.sqrAvg]));
  });

  it('runs 100 iterations by default', async () => {
    const learn = await tinyLearner({}, 2);
    expect((await learn.lrFind({ stopDiv: false })).lrs).toHaveLength(100);
  });

  it('plot: writes loss against lr as a PNG', async () => {
    const learn = await tinyLearner({}, 2);
    const file = join(tempDir(), 'lr.png');
    await learn.lrFind({ numIt: 20, plot: file });
    await expectPicture(file, { minWidth: 500, maxWidth: 2500, minHeight: 300, maxHeight: 1500 });
  });

  it('stops when the smoothed loss passes 4× its best', async () => {
    const learn = await tinyLearner({}, 2);
    const found = await learn.lrFind({ startLr: 1e-2, endLr: 1e6, numIt: 100 });
    const best = Math.min(...found.losses);
    expect(found.losses.length).toBeLessThan(100);
    const last = found.losses.at(-1)!;
    expect(last > 4 * best || !Number.isFinite(last)).toBe(true);
    expect(found.losses.slice(0, -1).every((l) => l <= 4 * Math.min(...found.losses.slice(0, found.losses.indexOf(l) + 1)))).toBe(true);
  });
});

describe('recorder and resizing', () => {
  it('train_loss in the table is the smoothed loss at the end of the epoch; valid_loss and metrics follow', async () => {
    const learn = await tinyLearner({ metrics: [accuracy] });
    await learn.fit(2, 1e-3);
    expect(learn.recorder.metricNames).toEqual(['train_loss', 'valid_loss', 'accuracy']);
    expect(learn.recorder.values[0]![0]).toBe(learn.recorder.losses[learn.recorder.iters[0]! - 1]);
    expect(learn.recorder.values[1]![0]).toBe(learn.recorder.losses.at(-1));
    const [validLoss, acc] = await learn.evaluate(learn.dls.valid);
    expect(learn.recorder.values[1]![1]).toBeCloseTo(validLoss!, 5);
    expect(learn.recorder.values[1]![2]).toBeCloseTo(acc!, 12);
  });

  it('progressive resizing: switching dls to a bigger size keeps every weight, and validation runs at the new size', async () => {
    const learn = await tinyLearner();
    await learn.fit(1, 1e-3);
    const w = weightsOf(learn.model);
    learn.dls = learn.dls.withSize(12);
    expect(weightsOf(learn.model)).toEqual(w);
    const { x, y } = await learn.dls.valid.oneBatch();
    expect(x.shape.slice(1, 3)).toEqual([12, 12]);
    tf.dispose([x, y]);
    await learn.fit(1, 1e-3);
    expect(learn.recorder.values[0]![1]).toBeGreaterThan(0);
  });
});

describe('save/load, trackers, tta', () => {
  it('save and load restore weights and optimizer state, so training resumes exactly', async () => {
    const learn = await tinyLearner();
    await learn.fit(1, 1e-3);
    const file = await learn.save('stage1');
    expect(file).toBe(join(learn.path, 'models', 'stage1.safetensors'));
    const w = weightsOf(learn.model);
    await learn.fit(1, 1e-3);
    await learn.load('stage1');
    expect(weightsOf(learn.model)).toEqual(w);
    const steps = [...learn.opt.snapshot().state.values()].map((s) => s.step);
    expect(steps.every((s) => s === learn.dls.train.length)).toBe(true);
    await expect(learn.load('missing')).rejects.toThrow(/checkpoint '.*missing\.safetensors' is missing/);
  });

  it('SaveModelCallback restores the best epoch; EarlyStoppingCallback stops; CSVLogger writes the table', async () => {
    const learn = await tinyLearner({ metrics: [accuracy] });
    const snapshots: number[][][] = [];
    class Snap extends Callback {
      override order = 59; // after the recorder, before the trackers
      override afterEpoch() {
        snapshots.push(weightsOf(this.learn.model));
      }
    }
    const save = new SaveModelCallback({ monitor: 'valid_loss' });
    const csv = join(tempDir(), 'history.csv');
    await learn.fit(3, 1e-2, { cbs: [new Snap(), save, new CSVLogger(csv)] });
    const losses = learn.recorder.values.map((v) => v[1]!);
    const best = losses.indexOf(Math.min(...losses));
    expect(save.bestEpoch).toBe(best);
    expect(weightsOf(learn.model)).toEqual(snapshots[best]);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('epoch,train_loss,valid_loss,accuracy,time');
    expect(lines).toHaveLength(4);

    const stopper = new EarlyStoppingCallback({ monitor: 'accuracy', patience: 1, minDelta: 10 }); // nothing can improve by 10
    await learn.fit(5, 1e-3, { cbs: [stopper] });
    expect(learn.recorder.values).toHaveLength(2); // epoch 0 sets the best, epoch 1 does not improve: stop
  });

  it('tta blends n augmented passes with the plain one: beta 1 is the plain prediction', async () => {
    const learn = await tinyLearner();
    await learn.fit(1, 1e-2);
    const before = tf.memory().numTensors;
    const plain = await learn.getPreds();
    const t1 = await learn.tta({ beta: 1 });
    Array.from(t1.preds.dataSync()).forEach((p, i) => expect(p).toBeCloseTo(plain.preds.dataSync()[i]!, 5));
    const t = await learn.tta();
    expect(t.preds.shape).toEqual(plain.preds.shape);
    tf.tidy(() => tf.sum(t.preds, 1).dataSync()).forEach((s) => expect(s).toBeCloseTo(1, 5));
    tf.dispose([plain.preds, plain.targs, t1.preds, t1.targs, t.preds, t.targs]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
