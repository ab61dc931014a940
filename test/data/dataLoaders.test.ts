import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataLoaders, ImageCache, imagenetStats, initBackend, type Row } from '../../src/index.js';
import { tempDir, writeImages, type Rgb } from '../helpers/images.js';

const red: Rgb = [255, 0, 0];
const green: Rgb = [0, 255, 0];
const blue: Rgb = [0, 0, 255];
const dir = tempDir();
let rows: Row[];

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  // 30 images: metal = red, rap = green, pop = blue.
  const names = await writeImages(join(dir, 'images'), 30, [red, green, blue]);
  const labels = ['metal', 'rap', 'pop'];
  rows = names.map((name, i) => ({ image_name: `images/${name}`, tags: labels[i % 3], is_valid: i >= 24 ? 'True' : 'False' }));
});

const base = () => ({ path: dir, fnCol: 'image_name', labelCol: 'tags', size: 8, bs: 4, seed: 42 });

describe('DataLoaders.fromDataFrame', () => {
  it('splits, labels and batches as fastai: sorted vocab, floor(20%) validation, dropLast on train', async () => {
    const dls = await DataLoaders.fromDataFrame(rows, base());
    expect(dls.vocab).toEqual(['metal', 'pop', 'rap']);
    expect(dls.c).toBe(3);
    expect(dls.valid.n).toBe(6);
    expect(dls.train.n).toBe(24);
    expect(dls.train.length).toBe(6); // 24 / 4
    expect(dls.valid.length).toBe(2); // ceil(6 / 4): validation keeps the last, partial batch
    const again = await DataLoaders.fromDataFrame(rows, base());
    expect(again.valid.indices).toEqual(dls.valid.indices);
  });

  it('yields float32 [bs, h, w, 3] images and int32 labels that match the files', async () => {
    const dls = await DataLoaders.fromDataFrame(rows, { ...base(), size: [6, 10] });
    const { x, y, indices } = await dls.valid.oneBatch();
    expect(x.shape).toEqual([4, 6, 10, 3]);
    expect(x.dtype).toBe('float32');
    expect(y.shape).toEqual([4]);
    expect(y.dtype).toBe('int32');
    const colorOf = { metal: red, pop: blue, rap: green } as Record<string, Rgb>;
    const pixels = (await x.array()) as number[][][][];
    const labels = (await y.array()) as number[];
    labels.forEach((label, k) => {
      const expected = colorOf[dls.vocab[label]!]!.map((v) => v / 255);
      expect(pixels[k]![3]![5]).toEqual(expected);
      expect(rows[indices[k]!]!.tags).toBe(dls.vocab[label]);
    });
    tf.dispose([x, y]);
  });

  it('a batch keeps its values while later batches are made (buffers are not shared with tensors)', async () => {
    const dls = await DataLoaders.fromDataFrame(rows, { ...base(), bs: 2 });
    const held: { x: tf.Tensor4D; y: tf.Tensor; first: number[] }[] = [];
    for await (const b of dls.train) {
      held.push({ ...b, first: Array.from(b.x.dataSync().slice(0, 3)) });
    }
    expect(held.length).toBe(12);
    for (const { x, y, first } of held) {
      expect(Array.from((await x.data()).slice(0, 3))).toEqual(first);
      const label = dls.vocab[(await y.data())[0]!];
      const color = { metal: red, pop: blue, rap: green }[label as 'metal']!;
      expect(first).toEqual(color.map((v) => v / 255));
      tf.dispose([x, y]);
    }
  });

  it('normalises on the tensor: a red pixel with ImageNet stats is ((1, 0, 0) − mean) / std', async () => {
    const dls = await DataLoaders.fromDataFrame(rows, { ...base(), normalize: imagenetStats });
    const { x, y } = await dls.valid.oneBatch();
    const labels = (await y.array()) as number[];
    const k = labels.indexOf(dls.vocab.indexOf('metal'));
    const pixel = ((await x.array()) as number[][][][])[k]![0]![0]!;
    const expected = [1, 0, 0].map((v, c) => (v - imagenetStats.mean[c]!) / imagenetStats.std[c]!);
    pixel.forEach((v, c) => expect(v).toBeCloseTo(expected[c]!, 5));
    tf.dispose([x, y]);
  });

  it('validCol puts truthy rows in validation; an unseen validation label names itself', async () => {
    const dls = await DataLoaders.fromDataFrame(rows, { ...base(), validCol: 'is_valid' });
    expect([...dls.valid.indices]).toEqual([24, 25, 26, 27, 28, 29]);
    const odd = rows.map((r, i) => (i === 27 ? { ...r, tags: 'jazz' } : r));
    await expect(DataLoaders.fromDataFrame(odd, { ...base(), validCol: 'is_valid' })).rejects.toThrow(
      "label 'jazz' (row 28) was not included in the training dataset",
    );
  });

  it('labelDelim makes multi-label data with float32 multi-hot targets', async () => {
    const multi = rows.map((r, i) => ({ ...r, tags: i % 3 === 0 ? 'metal rock' : i % 3 === 1 ? 'rap' : 'rock' }));
    const dls = await DataLoaders.fromDataFrame(multi, { ...base(), labelDelim: ' ' });
    expect(dls.multiLabel).toBe(true);
    expect(dls.vocab).toEqual(['metal', 'rap', 'rock']);
    const { x, y, indices } = await dls.train.oneBatch();
    expect(y.dtype).toBe('float32');
    expect(y.shape).toEqual([4, 3]);
    const hot = (await y.array()) as number[][];
    indices.forEach((i, k) => expect(hot[k]).toEqual(i % 3 === 0 ? [1, 0, 1] : i % 3 === 1 ? [0, 1, 0] : [0, 0, 1]));
    tf.dispose([x, y]);
  });

  it('shuffles training batches each epoch, reproducibly with a seed, and never shuffles validation', async () => {
    const order = async (dls: DataLoaders, split: 'train' | 'valid') => {
      const seen: number[] = [];
      for await (const b of dls[split]) {
        seen.push(...b.indices);
        tf.dispose([b.x, b.y]);
      }
      return seen;
    };
    const a = await DataLoaders.fromDataFrame(rows, base());
    const b = await DataLoaders.fromDataFrame(rows, base());
    const epoch1 = await order(a, 'train');
    expect(await order(b, 'train')).toEqual(epoch1);
    expect(await order(a, 'train')).not.toEqual(epoch1);
    expect(await order(a, 'valid')).toEqual([...a.valid.indices]);
  });
});

describe('bad input gets a clear error', () => {
  it('an empty table', async () => {
    await expect(DataLoaders.fromDataFrame([], base())).rejects.toThrow('the table is empty');
  });

  it('a column that does not exist, listing the ones that do', async () => {
    await expect(DataLoaders.fromDataFrame(rows, { ...base(), labelCol: 'genre' })).rejects.toThrow(
      "labelCol 'genre' is not a column of the table; its columns are: 'image_name', 'tags', 'is_valid'",
    );
    await expect(DataLoaders.fromDataFrame(rows, { ...base(), fnCol: 7 })).rejects.toThrow(/fnCol index 7 is not a column/);
  });

  it('empty labels, naming the rows', async () => {
    const holes = rows.map((r, i) => (i === 3 || i === 8 ? { ...r, tags: '' } : r));
    await expect(DataLoaders.fromDataFrame(holes, base())).rejects.toThrow('2 rows of the table have an empty label: row 4, row 9');
  });

  it('a single class', async () => {
    const one = rows.map((r) => ({ ...r, tags: 'metal' }));
    await expect(DataLoaders.fromDataFrame(one, base())).rejects.toThrow("has a single class ('metal')");
  });

  it.each([0, 1, 1.2, -0.5])('validPct %s', async (validPct) => {
    await expect(DataLoaders.fromDataFrame(rows, { ...base(), validPct })).rejects.toThrow(`validPct must be a number in (0, 1), got ${validPct}`);
  });

  it('missing files: one error before any training, listing the first 20 and the count', async () => {
    const missing = [...rows, ...Array.from({ length: 25 }, (_, i) => ({ image_name: `images/gone${i}.png`, tags: 'rap', is_valid: 'False' }))];
    const err = (await DataLoaders.fromDataFrame(missing, base()).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/25 of 55 image files cannot be read/);
    expect(err.message).toContain(join(dir, 'images/gone0.png'));
    expect(err.message).toContain(join(dir, 'images/gone19.png'));
    expect(err.message).not.toContain('gone20.png');
    expect(err.message).toContain('… and 5 more');
    expect(err.message).toContain('row 31');
  });

  it('a path that escapes `path`, through .. or by being absolute', async () => {
    const out = rows.map((r, i) => (i === 0 ? { ...r, image_name: '../elsewhere.png' } : r));
    await expect(DataLoaders.fromDataFrame(out, base())).rejects.toThrow(/'..\/elsewhere.png' \(row 1\) points outside path/);
    const abs = rows.map((r, i) => (i === 0 ? { ...r, image_name: join(dir, 'images/img0.png') } : r));
    await expect(DataLoaders.fromDataFrame(abs, base())).rejects.toThrow(/points outside path/);
    const dls = await DataLoaders.fromDataFrame(abs, { ...base(), allowOutsidePath: true });
    expect(dls.train.n + dls.valid.n).toBe(30);
  });

  it("a corrupt image names the file and row; with onBadImage: 'skip' it is left out and reported", async () => {
    const bad = join(dir, 'images/broken.jpg');
    writeFileSync(bad, 'not an image');
    const withBad = [
      { image_name: 'images/broken.jpg', tags: 'rap', is_valid: 'True' },
      ...rows.slice(0, 24).map((r, i) => ({ ...r, is_valid: i >= 20 ? 'True' : 'False' })),
    ];
    const dls = await DataLoaders.fromDataFrame(withBad, { ...base(), validCol: 'is_valid' });
    await expect(dls.valid.oneBatch()).rejects.toThrow(/cannot decode image '.*broken\.jpg': .* \(row 1\)/);

    const missing = { image_name: 'images/nope.png', tags: 'rap', is_valid: 'False' };
    const skipping = await DataLoaders.fromDataFrame([...withBad, missing], { ...base(), validCol: 'is_valid', onBadImage: 'skip', valBs: 8 });
    expect(skipping.skipped.map((s) => s.reason)).toEqual(['file not found']);
    expect(skipping.valid.n).toBe(5); // the broken image and rows 21–24
    const b = await skipping.valid.oneBatch();
    expect(b.x.shape[0]).toBe(4);
    expect(skipping.valid.n).toBe(4);
    tf.dispose([b.x, b.y]);
    for await (const t of skipping.train) tf.dispose([t.x, t.y]);
    expect(skipping.skipped.map((s) => [s.origin, s.reason === 'file not found'])).toEqual([
      ['row 26', true],
      ['row 1', false],
    ]);
  });
});

describe('caching, resizing, memory', () => {
  it('the second epoch decodes nothing; a disk cache serves a second run', async () => {
    const cacheDir = join(tempDir(), 'cache');
    const cache = new ImageCache({ dir: cacheDir });
    const dls = await DataLoaders.fromDataFrame(rows, { ...base(), cache });
    const epoch = async () => {
      for await (const b of dls.train) tf.dispose([b.x, b.y]);
      for await (const b of dls.valid) tf.dispose([b.x, b.y]);
    };
    await epoch();
    expect(cache.stats.decodes).toBe(30);
    await epoch();
    expect(cache.stats.decodes).toBe(30);
    expect(cache.stats.memoryHits).toBeGreaterThanOrEqual(24 + 6);

    const nextRun = new ImageCache({ dir: cacheDir });
    const dls2 = await DataLoaders.fromDataFrame(rows, { ...base(), cache: nextRun });
    for await (const b of dls2.valid) tf.dispose([b.x, b.y]);
    expect(nextRun.stats.decodes).toBe(0);
    expect(nextRun.stats.diskHits).toBe(6);
  });

  it('a memory budget keeps what fits and decodes the rest again', async () => {
    const cache = new ImageCache({ memoryBytes: 10 * 8 * 8 * 3 });
    const dls = await DataLoaders.fromDataFrame(rows, { ...base(), cache });
    for (let e = 0; e < 2; e++) for await (const b of dls.valid) tf.dispose([b.x, b.y]);
    expect(cache.stats.memoryBytes).toBe(6 * 8 * 8 * 3);
    expect(cache.stats.decodes).toBe(6);
  });

  it('withSize gives the same items, split and vocab at a new size', async () => {
    const dls = await DataLoaders.fromDataFrame(rows, base());
    const big = dls.withSize({ size: 12, bs: 2 });
    expect(big.size).toEqual([12, 12]);
    expect(big.vocab).toEqual(dls.vocab);
    expect([...big.valid.indices]).toEqual([...dls.valid.indices]);
    expect(big.train.bs).toBe(2);
    const { x, y } = await big.valid.oneBatch();
    expect(x.shape).toEqual([2, 12, 12, 3]);
    tf.dispose([x, y]);
    expect(dls.withSize(16).size).toEqual([16, 16]);
  });

  it('leaks no tensors over 3 epochs, nor when a loop stops early', async () => {
    const dls = await DataLoaders.fromDataFrame(rows, base());
    const before = tf.memory().numTensors;
    for (let e = 0; e < 3; e++) {
      for await (const b of dls.train) tf.dispose([b.x, b.y]);
      for await (const b of dls.valid) tf.dispose([b.x, b.y]);
    }
    for await (const b of dls.train) {
      tf.dispose([b.x, b.y]);
      break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('other factories and showBatch', () => {
  it('fromCsv reads quoted fields, commas in quotes, a BOM and CRLF', async () => {
    const csv = join(dir, 'albums.csv');
    const lines = ['\ufeffimage_name,"title, with comma",tags', ...rows.map((r, i) => `${r.image_name},"Album ""${i}"", vol. 1",${r.tags}`)];
    writeFileSync(csv, lines.join('\r\n'));
    const dls = await DataLoaders.fromCsv(csv, { ...base(), labelCol: 2 });
    expect(dls.vocab).toEqual(['metal', 'pop', 'rap']);
    await expect(DataLoaders.fromCsv(csv, { ...base(), labelCol: 'genre' })).rejects.toThrow(`is not a column of ${csv}`);
    const holes = join(dir, 'holes.csv');
    writeFileSync(holes, ['image_name,tags', 'images/img0.png,metal', 'images/img1.png,'].join('\n'));
    await expect(DataLoaders.fromCsv(holes, base())).rejects.toThrow(`row 2 (line 3 of ${holes})`);
  });

  it('fromFolder reads an ImageNet-style layout, or splits at random with validPct', async () => {
    const root = tempDir();
    for (const [split, n] of [['train', 4], ['valid', 2]] as const) {
      await writeImages(join(root, split, 'metal'), n, [red]);
      await writeImages(join(root, split, 'rap'), n, [green]);
    }
    const dls = await DataLoaders.fromFolder(root, { size: 8, bs: 2 });
    expect(dls.vocab).toEqual(['metal', 'rap']);
    expect([dls.train.n, dls.valid.n]).toEqual([8, 4]);
    const random = await DataLoaders.fromFolder(root, { size: 8, bs: 2, validPct: 0.25, seed: 1 });
    expect([random.train.n, random.valid.n]).toEqual([9, 3]);
  });

  it('fromLists takes file names and labels', async () => {
    const dls = await DataLoaders.fromLists(dir, rows.map((r) => r.image_name as string), rows.map((r) => r.tags), { size: 8, bs: 4, seed: 1 });
    expect(dls.c).toBe(3);
    await expect(DataLoaders.fromLists(dir, ['a.png'], [], {})).rejects.toThrow('1 file names but 0 labels');
  });

  it('showBatch writes a PNG grid of de-normalised images', async () => {
    mkdirSync(join(dir, 'out'), { recursive: true });
    const dls = await DataLoaders.fromDataFrame(rows, { ...base(), size: 64, normalize: imagenetStats });
    const before = tf.memory().numTensors;
    const file = await dls.showBatch({ maxN: 4, file: join(dir, 'out', 'batch.png') });
    expect(tf.memory().numTensors).toBe(before);
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(2 * 64);
    // The top-left image is a solid, de-normalised colour again: red, green or blue.
    const { data } = await sharp(file).extract({ left: 20, top: 50, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
    expect([[255, 0, 0], [0, 255, 0], [0, 0, 255]]).toContainEqual([...data.subarray(0, 3)]);
  });
});
