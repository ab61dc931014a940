import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { augTransforms, DataLoaders, initBackend, loadLearner, Normalize, RandomResizedCrop, Resize, imagenetStats } from '../../src/index.js';
import { BnFreeze } from '../../src/learner/bnFreeze.js';
import type { Learner } from '../../src/learner/learner.js';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';
import { tinyLearner } from './tiny.js';

let data: Awaited<ReturnType<typeof writePatterns>>;

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  data = await writePatterns(24);
});

const values = async (x: tf.Tensor) => Array.from(await x.data());
const firstBatch = async (dls: DataLoaders, split: 'train' | 'valid' = 'train') => {
  const b = await dls[split].oneBatch();
  const v = await values(b.x);
  tf.dispose([b.x, b.y]);
  return v;
};
const patterns = (opts: Parameters<typeof DataLoaders.fromDataFrame>[1] = {}) => DataLoaders.fromDataFrame(data.rows, { path: data.dir, bs: 6, seed: 7, ...opts });

describe('augmented DataLoaders', () => {
  it('the same seed gives the same augmented batches, another seed others; every epoch draws anew', async () => {
    const opts = { itemTfms: [Resize(28)], batchTfms: augTransforms({ pAffine: 1 }) };
    const a = await firstBatch(await patterns(opts));
    const b = await firstBatch(await patterns(opts));
    const c = await firstBatch(await patterns({ ...opts, seed: 8 }));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // Same order, new draws: two passes over an unshuffled training loader differ.
    const dls = await patterns(opts);
    const dl = dls.train.with({ shuffle: false });
    const [first, second] = [await dl.oneBatch(), await dl.oneBatch()];
    expect(first.indices).toEqual(second.indices);
    expect(await values(first.x)).not.toEqual(await values(second.x));
    tf.dispose([first.x, first.y, second.x, second.y]);
  });

  it('never augments validation batches: the same pixels as without any transform', async () => {
    const plain = await firstBatch(await patterns({ size: 28 }), 'valid');
    const augmented = await firstBatch(await patterns({ size: 28, batchTfms: augTransforms({ pAffine: 1, pLighting: 1 }) }), 'valid');
    expect(augmented).toEqual(plain);
    expect(tf.memory().numTensors).toBeLessThan(50);
  });

  it('presizing: items at 32, batches cut to 16 on the backend; withSize keeps the transforms', async () => {
    const before = tf.memory().numTensors;
    const dls = await patterns({ itemTfms: [Resize(32)], batchTfms: [...augTransforms({ size: 16, minScale: 0.75 }), Normalize.fromStats(imagenetStats)] });
    expect(dls.itemSize).toEqual([32, 32]);
    expect(dls.size).toEqual([16, 16]);
    expect(dls.normalize).toEqual(imagenetStats);
    for (const split of ['train', 'valid'] as const) {
      const { x, y } = await dls[split].oneBatch();
      expect(x.shape.slice(1)).toEqual([16, 16, 3]);
      tf.dispose([x, y]);
    }
    const bigger = dls.withSize(24);
    expect(bigger.size).toEqual([24, 24]);
    expect(bigger.batchTfms.map((t) => t.name)).toEqual(dls.batchTfms.map((t) => t.name.replace('16x16', '24x24')));
    const { x, y } = await bigger.train.oneBatch();
    expect(x.shape).toEqual([6, 24, 24, 3]);
    tf.dispose([x, y]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses transforms in the wrong place and a size given twice, naming them', async () => {
    await expect(patterns({ itemTfms: augTransforms() as never })).rejects.toThrow(/itemTfms\[0\] is not an item transform .*put it in batchTfms/);
    await expect(patterns({ batchTfms: [Resize(8)] as never })).rejects.toThrow(/batchTfms\[0\] .*put it in itemTfms/);
    await expect(patterns({ batchTfms: [augTransforms()] as never })).rejects.toThrow(/spread it/);
    await expect(patterns({ size: 16, itemTfms: [Resize(8)] })).rejects.toThrow(/either as size.*or in itemTfms/);
  });

  it('showBatch({ unique: true }) draws one item through the augmentations', async () => {
    const dls = await patterns({ itemTfms: [RandomResizedCrop(32, { minScale: 0.3 })], batchTfms: augTransforms({ maxRotate: 30, pAffine: 1 }) });
    const file = await dls.showBatch({ unique: true, file: join(tempDir(), 'unique.png') });
    const meta = await sharp(readFileSync(file)).metadata();
    expect(meta.width).toBeGreaterThan(100);
    // The same item nine times, each drawn differently.
    const item = dls.train.batchOrder()[0]![0]!;
    for await (const { x, y, indices } of dls.train.batchesOf([[item, item, item]])) {
      expect(indices).toEqual([item, item, item]);
      const [a, b] = tf.tidy(() => tf.unstack(x).map((t) => t.dataSync()));
      expect(Array.from(a!)).not.toEqual(Array.from(b!));
      tf.dispose([x, y]);
    }
  });
});

describe('the learner with transforms', () => {
  const frozen = async (batchTfms: ReturnType<typeof augTransforms> | undefined, lines: string[]) => {
    const learn = await tinyLearner({ trainBn: false, cbs: [new BnFreeze()], logger: (l) => lines.push(l) }, 4, batchTfms ? { size: 8, batchTfms } : {});
    learn.freeze();
    return learn;
  };

  it('caches body features without random train transforms and not with augTransforms (saying why, once)', async () => {
    const lines: string[] = [];
    const plain = await frozen(undefined, lines);
    await plain.fit(1, 1e-3);
    expect(plain.featureCache!.stats.items).toBeGreaterThan(0);
    const augmented = await frozen(augTransforms(), lines);
    await augmented.fit(1, 1e-3);
    await augmented.fit(1, 1e-3);
    expect(augmented.featureCache!.stats.items).toBe(0);
    const notices = lines.filter((l) => l.startsWith('fastvision: not caching'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/random transforms change the training images every epoch \(Affine\(.*\), Lighting\(.*\)\)/);
    for (const l of [plain, augmented]) l.model.dispose();
  });

  it('tta: n passes through the train transforms, blended with the plain pass by beta', async () => {
    const learn = await tinyLearner({}, 4, { size: 8, batchTfms: augTransforms({ pLighting: 1 }) });
    const plain = await learn.getPreds();
    const [aug, mixed, noAug] = [await learn.tta({ beta: 0, n: 3 }), await learn.tta({ beta: 0.25, n: 3 }), await learn.tta({ beta: 1, n: 3 })];
    const n = learn.dls.valid.n;
    expect(mixed.preds.shape).toEqual([n, 2]);
    expect(await values(noAug.preds)).toEqual(await values(plain.preds));
    expect(await values(aug.preds)).not.toEqual(await values(plain.preds));
    const blend = tf.tidy(() => tf.add(tf.mul(aug.preds, 0.75), tf.mul(plain.preds, 0.25)));
    (await values(mixed.preds)).forEach((v, i) => expect(v).toBeCloseTo(blend.dataSync()[i]!, 6));
    expect(await values(mixed.targs)).toEqual(await values(plain.targs));
    tf.dispose([plain.preds, plain.targs, aug.preds, aug.targs, mixed.preds, mixed.targs, noAug.preds, noAug.targs, blend]);
    learn.model.dispose();
  });

  it('testDl + getPreds on a loaded export (presized: item and batch resize) equals predict item by item', async () => {
    const learn: Learner = await tinyLearner({}, 4, { itemTfms: [Resize(12)], batchTfms: augTransforms({ size: 8 }) });
    await learn.fit(1, 1e-2);
    const dir = join(tempDir(), 'model');
    await learn.export(dir);
    const meta = JSON.parse(readFileSync(join(dir, 'fastvision.json'), 'utf8'));
    expect(meta.itemTfms).toEqual([{ type: 'Resize', size: [12, 12], method: 'crop', padMode: 'reflection' }]);
    expect(meta.size).toEqual([8, 8]);
    const loaded = await loadLearner(dir);
    const files = learn.dls.valid.indices.map((i) => learn.dls.itemAt(i).file);
    const before = tf.memory().numTensors;
    const dl = await loaded.testDl(files, { bs: 3 });
    const { preds, targs } = await loaded.getPreds({ dl });
    expect(await values(targs)).toEqual(files.map(() => -1));
    const rows = (await preds.array()) as number[][];
    for (const [k, file] of files.entries()) {
      const one = await loaded.predict(file);
      one.probs.forEach((p, c) => expect(p).toBeCloseTo(rows[k]![c]!, 5));
    }
    // The export preprocesses as the live learner's validation set does.
    const live = await learn.getPreds();
    (await values(live.preds)).forEach((v, i) => expect(v).toBeCloseTo(rows.flat()[i]!, 5));
    tf.dispose([preds, targs, live.preds, live.targs]);
    expect(tf.memory().numTensors).toBe(before);
    // Buffers, labels, and a bad image skipped.
    const labelled = await learn.dls.testDl(
      [{ item: readFileSync(files[0]!), label: learn.dls.vocab[0]! }, { item: files[1]!, label: learn.dls.vocab[1]! }],
      { withLabels: true },
    );
    const scored = await learn.getPreds({ dl: labelled, withLoss: true });
    expect(await values(scored.targs)).toEqual([0, 1]);
    expect(scored.losses!.shape).toEqual([2]);
    tf.dispose([scored.preds, scored.targs, scored.losses!]);
    const many = await loaded.predictMany([files[0]!, Buffer.from('not an image'), join(dir, 'missing.png')], { onBadImage: 'skip' });
    expect(many.predictions.map((p) => p.item)).toEqual([files[0]]);
    expect(many.skipped.map((s) => [typeof s.item === 'string' ? s.item : 'buffer', /file not found|unsupported|Input buffer/.test(s.reason)])).toEqual([
      [join(dir, 'missing.png'), true],
      ['buffer', true],
    ]);
    for (const l of [learn, loaded]) l.model.dispose();
  });
});
