import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Callback,
  CancelBatchException,
  CutMix,
  DataLoaders,
  GradientAccumulation,
  GradientClip,
  Learner,
  MixUp,
  ReduceLROnPlateau,
  initBackend,
  labelSmoothingCrossEntropy,
} from '../../src/index.js';
import { tempDir, writeImages } from '../helpers/images.js';
import { tinyLearner } from './tiny.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const weightsOf = (learn: Learner) => learn.model.weights.map((w) => Array.from(w.read().dataSync()));

/** A BatchNorm-free net whose weights start the same in every learner built with the same seed. */
async function plainLearner(bs: number, opts: { shuffle?: boolean; images?: number } = {}): Promise<Learner> {
  const dir = tempDir('fastvision-loop-');
  const names = await writeImages(dir, opts.images ?? 20, [[220, 30, 30], [30, 30, 220]]);
  const rows = names.map((fn, i) => ({ fn, label: i % 2 ? 'blue' : 'red', valid: i >= 16 }));
  const dls = await DataLoaders.fromDataFrame(rows, { path: dir, size: 8, bs, validCol: 'valid', shuffle: opts.shuffle ?? false, dropLast: false });
  const input = tf.input({ shape: [null, null, 3] });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, kernelInitializer: tf.initializers.randomNormal({ seed: 1 }), name: 'conv' });
  const dense = tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.randomNormal({ seed: 2 }), name: 'dense' });
  const x = tf.layers.globalAveragePooling2d({}).apply(conv.apply(input)) as tf.SymbolicTensor;
  return new Learner(dls, tf.model({ inputs: input, outputs: dense.apply(x) as tf.SymbolicTensor }), { layerGroups: [[conv], [dense]], logger: () => {}, wd: 0 });
}

describe('the events fire at their true points', () => {
  it('in order, with xb/yb, pred, loss, grads where fastai has them', async () => {
    const learn = await plainLearner(4);
    const seen: string[] = [];
    class Spy extends Callback {
      override beforeBatch() {
        if (this.learn.training) seen.push(`beforeBatch xb=${this.learn.xb!.shape} pred=${this.learn.pred}`);
      }
      override afterPred() {
        if (this.learn.training) seen.push(`afterPred pred=${this.learn.pred!.shape} loss=${this.learn.loss}`);
      }
      override afterLoss() {
        if (this.learn.training) seen.push(`afterLoss loss=${this.learn.loss!.shape.length} grads=${this.learn.grads}`);
      }
      override beforeBackward() {
        seen.push('beforeBackward');
      }
      override afterBackward() {
        seen.push(`afterBackward grads=${Object.keys(this.learn.grads!).length}`);
      }
      override beforeStep() {
        seen.push('beforeStep');
      }
      override afterStep() {
        seen.push('afterStep');
      }
      override afterBatch() {
        if (this.learn.training) seen.push('afterBatch');
      }
    }
    await learn.fit(1, 1e-3, { cbs: [new Spy()] });
    expect(seen.slice(0, 8)).toEqual([
      'beforeBatch xb=4,8,8,3 pred=undefined',
      'afterPred pred=4,2 loss=undefined',
      'afterLoss loss=0 grads=undefined',
      'beforeBackward',
      'afterBackward grads=4',
      'beforeStep',
      'afterStep',
      'afterBatch',
    ]);
  });

  it('CancelBatchException in afterLoss leaves every weight bit-identical', async () => {
    const learn = await plainLearner(4);
    const before = weightsOf(learn);
    class Skip extends Callback {
      override afterLoss() {
        throw new CancelBatchException();
      }
    }
    await learn.fit(2, 1e-2, { cbs: [new Skip()] });
    expect(weightsOf(learn)).toEqual(before);
    // And on a net with BatchNorm, every trainable weight.
    const bn = await tinyLearner();
    const trainable = () => bn.model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    const t0 = trainable();
    await bn.fit(1, 1e-2, { cbs: [new Skip()] });
    expect(trainable()).toEqual(t0);
  });

  it('a callback that zeroes learn.grads in afterBackward leaves the weights unchanged (no weight decay)', async () => {
    const learn = await plainLearner(4);
    const before = weightsOf(learn);
    class Zero extends Callback {
      override afterBackward() {
        const g = this.learn.grads!;
        this.learn.grads = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, tf.zerosLike(v)]));
        tf.dispose(Object.values(g));
      }
    }
    await learn.fit(1, 1e-2, { cbs: [new Zero()] });
    expect(weightsOf(learn)).toEqual(before);
  });

  it('a callback with runValid = false is not called in validation, and validation still runs', async () => {
    const learn = await plainLearner(4);
    const calls = { train: 0, valid: 0 };
    class TrainOnly extends Callback {
      override runValid = false;
      override afterPred() {
        calls[this.learn.training ? 'train' : 'valid']++;
      }
    }
    await learn.fit(1, 1e-3, { cbs: [new TrainOnly()] });
    expect(calls).toEqual({ train: 4, valid: 0 });
    expect(learn.recorder.values[0]).toHaveLength(2); // train and valid loss
  });

  it('an AbortSignal ends the fit cleanly at the next batch, then rejects with its reason', async () => {
    const learn = await plainLearner(4);
    const controller = new AbortController();
    const ended: string[] = [];
    class Watch extends Callback {
      override afterBatch() {
        if (this.learn.training && this.learn.iter === 1) controller.abort(new Error('enough'));
      }
      override afterTrain() {
        ended.push('afterTrain');
      }
      override afterCancelFit() {
        ended.push('afterCancelFit');
      }
      override afterFit() {
        ended.push('afterFit');
      }
    }
    await learn.fit(1, 1e-3); // the optimizer's state exists from here on
    const before = tf.memory().numTensors;
    await expect(learn.fit(5, 1e-3, { cbs: [new Watch()], signal: controller.signal })).rejects.toThrow('enough');
    expect(learn.trainIter).toBe(2);
    expect(ended).toEqual(['afterTrain', 'afterCancelFit', 'afterFit']);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('callbacks and losses fastai users reach for', () => {
  it('GradientAccumulation(16) at batch 8 makes the same update as one batch of 16', async () => {
    const big = await plainLearner(16);
    const small = await plainLearner(8);
    expect(weightsOf(small)).toEqual(weightsOf(big));
    await big.fit(1, 1e-2);
    await small.fit(1, 1e-2, { cbs: [new GradientAccumulation(16)] });
    const [a, b] = [weightsOf(big).flat(), weightsOf(small).flat()];
    let worst = 0;
    a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]!))));
    expect(worst).toBeLessThanOrEqual(1e-5);
    expect(weightsOf(small)).not.toEqual(weightsOf(await plainLearner(8))); // it did step
  });

  it('MixUp mixes each item with a shuffled one by its drawn λ ≥ 0.5, and the loss by the same λ', async () => {
    const learn = await plainLearner(4);
    const mix = new MixUp(0.4, 7);
    const captured: { x?: number[][]; mixed?: number[][]; lam?: number[] } = {};
    class Before extends Callback {
      override order = -1;
      override beforeBatch() {
        if (this.learn.training && !captured.x) captured.x = (this.learn.xb!.reshape([4, -1]).arraySync() as number[][]);
      }
    }
    class After extends Callback {
      override order = 1;
      override beforeBatch() {
        if (!this.learn.training || captured.mixed) return;
        captured.mixed = this.learn.xb!.reshape([4, -1]).arraySync() as number[][];
        captured.lam = Array.from(mix.lam!.dataSync());
      }
    }
    await learn.fit(1, 1e-3, { cbs: [new Before(), mix, new After()] });
    const { x, mixed, lam } = captured as Required<typeof captured>;
    expect(lam.every((l) => l >= 0.5 && l <= 1)).toBe(true);
    // Each mixed item is lerp(x[j], x[i], λ_i) for some j (the shuffle).
    mixed.forEach((m, i) => {
      const fits = x.some((xj) => m.every((v, k) => Math.abs(v - (xj[k]! + lam[i]! * (x[i]![k]! - xj[k]!))) < 1e-4));
      expect(fits, `item ${i}`).toBe(true);
    });
  });

  it('CutMix pastes a box of a shuffled image; λ is the share of the image left', async () => {
    const learn = await plainLearner(4);
    const cut = new CutMix(1, 3);
    let check: { lam: number; box: [number, number, number, number] } | undefined;
    class After extends Callback {
      override order = 1;
      override beforeBatch() {
        if (this.learn.training && !check) check = { lam: cut.lam!.dataSync()[0]!, box: [...cut.box] as [number, number, number, number] };
      }
    }
    await learn.fit(1, 1e-3, { cbs: [cut, new After()] });
    const [x1, y1, x2, y2] = check!.box;
    expect(check!.lam).toBeCloseTo(1 - ((x2 - x1) * (y2 - y1)) / 64, 6);
  });

  it('labelSmoothingCrossEntropy matches fastai’s formula on hand values', () => {
    const pred = tf.tensor2d([[2, 0, -1], [0.5, 0.5, 3]]);
    const targ = tf.tensor1d([0, 2], 'int32');
    const eps = 0.1;
    const logSoftmax = (row: number[]) => {
      const m = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      return row.map((v) => v - m);
    };
    const rows = [[2, 0, -1], [0.5, 0.5, 3]].map(logSoftmax);
    const expected = rows.map((lp, i) => (eps * -lp.reduce((a, b) => a + b, 0)) / 3 + (1 - eps) * -lp[[0, 2][i]!]!).reduce((a, b) => a + b, 0) / 2;
    expect(labelSmoothingCrossEntropy(eps)(pred, targ).dataSync()[0]).toBeCloseTo(expected, 6);
    tf.dispose([pred, targ]);
  });

  it('ReduceLROnPlateau divides the lr after `patience` epochs without improvement', async () => {
    const learn = await plainLearner(4);
    const lines: string[] = [];
    learn.logger = (l) => lines.push(l);
    const lrs: number[] = [];
    class Lr extends Callback {
      override order = 99;
      override afterEpoch() {
        lrs.push(this.learn.opt.hypers.at(-1)!.lr);
      }
    }
    // lr 0: the valid loss never changes, so it stops improving after the first epoch.
    await learn.fit(5, 0, { cbs: [new ReduceLROnPlateau({ patience: 2, factor: 10, minLr: 0 }), new Lr()] });
    expect(lrs).toEqual([0, 0, 0, 0, 0]);
    const learn2 = await plainLearner(4);
    const lrs2: number[] = [];
    class Lr2 extends Callback {
      override order = 99;
      override beforeEpoch() {
        // Keep the model still (lr 0 for the weights) but watch the scheduled value.
        lrs2.push(this.learn.opt.hypers.at(-1)!.lr);
      }
    }
    class Freeze extends Callback {
      override afterBackward() {
        const g = this.learn.grads!;
        this.learn.grads = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, tf.zerosLike(v)]));
        tf.dispose(Object.values(g));
      }
    }
    learn2.logger = (l) => lines.push(l);
    await learn2.fit(5, 1e-2, { cbs: [new ReduceLROnPlateau({ patience: 2 }), new Freeze(), new Lr2()] });
    expect(lrs2).toEqual([1e-2, 1e-2, 1e-2, 1e-3, 1e-3]);
    expect(lines).toContain('Epoch 2: reducing lr to 0.001');
  });

  it('GradientClip scales the gradients to the max norm', async () => {
    const learn = await plainLearner(4);
    let norm = 0;
    class Measure extends Callback {
      override order = 1;
      override beforeStep() {
        norm = Math.sqrt(Object.values(this.learn.grads!).reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0]!, 0));
      }
    }
    await learn.fit(1, 1e-3, { cbs: [new GradientClip(1e-3), new Measure()] });
    expect(norm).toBeCloseTo(1e-3, 5);
  });
});
