import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { augTransforms, initBackend, lightingTransform, Normalize, RandomCrop, RandomResizedCrop, Resize } from '../../src/index.js';
import { affineMatrices, affineTransform, type AffineOptions } from '../../src/data/transforms/affine.js';
import { logit } from '../../src/data/transforms/lighting.js';
import type { Rng } from '../../src/data/transforms/transform.js';
import type { Pixels } from '../../src/data/resample.js';
import { randomArray } from '../helpers/random.js';

const python = '/usr/bin/python3';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

/** An rng that returns these values in turn (and fails the test if asked for more). */
function script(...values: number[]): Rng {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error(`the transform drew more than the ${values.length} scripted numbers`);
    return values[i++]!;
  };
}

/** A one-channel-lit 4D batch: `ones` are [row, col] positions set to 1 in every channel. */
function markers(h: number, w: number, ...ones: [number, number][][]): tf.Tensor4D {
  const data = new Float32Array(ones.length * h * w * 3);
  ones.forEach((pts, n) => pts.forEach(([r, c]) => data.fill(1, ((n * h + r) * w + c) * 3, ((n * h + r) * w + c) * 3 + 3)));
  return tf.tensor4d(data, [ones.length, h, w, 3]);
}

/** Positions of values > 0.5 in channel 0 of image `n`. */
function lit(x: tf.Tensor4D, n = 0): [number, number][] {
  const [, h, w] = x.shape;
  const v = x.arraySync()[n]!;
  const out: [number, number][] = [];
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) if (v[r]![c]![0]! > 0.5) out.push([r, c]);
  return out;
}

function run(opts: AffineOptions, x: tf.Tensor4D, rng: Rng): tf.Tensor4D {
  return affineTransform({ padMode: 'zeros', ...opts }).apply(x, 'train', rng);
}

describe('affine transforms: where a marker lands', () => {
  it('flip mirrors the columns (probability 0.5: a draw under 0.5 flips)', () => {
    const x = markers(5, 4, [[1, 0]]);
    const flipped = run({ doFlip: true }, x, script(0.2));
    const kept = run({ doFlip: true }, x, script(0.7));
    expect(lit(flipped)).toEqual([[1, 3]]);
    expect(lit(kept)).toEqual([[1, 0]]);
    tf.dispose([x, flipped, kept]);
  });

  it('rotate by +90° takes the top-right corner to the bottom-right (fastai\'s rotate_mat: input = (cos·x + sin·y, −sin·x + cos·y))', () => {
    const x = markers(5, 5, [[0, 4]]);
    // maxRotate 90, p 1: the angle is uniform(−90, 90) → a draw of 1 is +90°, of 0 is −90°.
    const plus = run({ maxRotate: 90, pAffine: 1 }, x, script(1));
    const minus = run({ maxRotate: 90, pAffine: 1 }, x, script(0));
    expect(lit(plus)).toEqual([[4, 4]]);
    expect(lit(minus)).toEqual([[0, 0]]);
    tf.dispose([x, plus, minus]);
  });

  it('zoom ×2 about the centre doubles distances from it; the zoom centre moves with its draws', () => {
    const x = markers(5, 5, [[1, 3]]);
    // zoom uniform(2, 2) → 2; centre draws 0.5, 0.5 → centred: input = output / 2 in normalised coordinates.
    const centred = run({ minZoom: 2, maxZoom: 2, pAffine: 1 }, x, script(0, 0.5, 0.5));
    expect(lit(centred)).toEqual([[0, 4]]);
    // Centre draws of 1: col_c = row_c = (1 − 1/2)(2·1 − 1) = 0.5, so the output's corner (−1, −1) samples input (0, 0).
    const y = markers(5, 5, [[2, 2]]);
    const shifted = run({ minZoom: 2, maxZoom: 2, pAffine: 1 }, y, script(0, 1, 1));
    expect(lit(shifted)).toEqual([[0, 0]]);
    tf.dispose([x, y, centred, shifted]);
  });

  it("warp reproduces fastai's own Warp test (draw_x = [0, 0, −0.5, 0.5], draw_y = [−0.5, 0.5, 0, 0] on 5×5 corners)", () => {
    const x = markers(5, 5, [[0, 0], [0, 4]], [[4, 0], [4, 4]], [[0, 0], [4, 0]], [[0, 4], [4, 4]]);
    const draws = [
      [0, -0.5],
      [0, 0.5],
      [-0.5, 0],
      [0.5, 0],
    ];
    // magnitude 0.5, p 1: x_t = uniform(−0.5, 0.5) = r − 0.5.
    const out = run({ maxWarp: 0.5, pAffine: 1 }, x, script(...draws.flatMap(([dx, dy]) => [dx! + 0.5, dy! + 0.5])));
    expect([0, 1, 2, 3].map((n) => lit(out, n))).toEqual([
      [[0, 1], [0, 3]],
      [[4, 1], [4, 3]],
      [[1, 0], [3, 0]],
      [[1, 4], [3, 4]],
    ]);
    tf.dispose([x, out]);
  });

  it('validation batches are never augmented: the same pixels, or only resized to size', () => {
    const x = tf.tensor4d(randomArray(2 * 6 * 8 * 3, 'valid'), [2, 6, 8, 3]);
    const t = affineTransform({ doFlip: true, maxRotate: 30, maxZoom: 1.5, maxWarp: 0.4, pAffine: 1 });
    expect(t.activeOn('valid', [6, 8])).toBe(false);
    const same = t.apply(x, 'valid', script());
    expect(same.arraySync()).toEqual(x.arraySync());
    const sized = affineTransform({ doFlip: true, size: [3, 4] });
    expect(sized.activeOn('valid', [6, 8])).toBe(true);
    expect(sized.apply(x, 'valid', script()).shape).toEqual([2, 3, 4, 3]);
    tf.dispose([x, same]);
  });

  it('warps every image of a batch on every backend (tfjs 4.22\'s cpu Transform kernel stops after the first)', async () => {
    const x = () => tf.tensor4d(randomArray(3 * 5 * 6 * 3, 'batch'), [3, 5, 6, 3]);
    const outs: number[][] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend({ backend });
      const input = x();
      const out = run({ doFlip: true, maxRotate: 20, pAffine: 1 }, input, script(0.1, 0.3, 0.2, 0.9, 0.1, 0.6));
      outs.push(Array.from(out.dataSync()));
      expect(tf.tidy(() => out.slice([2, 0, 0, 0], [1, 5, 6, 3]).max().dataSync()[0])).toBeGreaterThan(0.1);
      tf.dispose([input, out]);
    }
    outs[0]!.forEach((v, i) => expect(v).toBeCloseTo(outs[1]![i]!, 5));
  });

  it('one resample per batch equals PyTorch grid_sample on the same matrices (non-square, resized, zeros and border padding)', () => {
    const [n, h, w] = [4, 12, 16];
    const data = randomArray(n * h * w * 3, 'grid').map((v) => (v + 1) / 2);
    const x = tf.tensor4d(data, [n, h, w, 3]);
    for (const padMode of ['zeros', 'border'] as const) {
      const opts: AffineOptions = { doFlip: true, maxRotate: 30, minZoom: 0.8, maxZoom: 1.5, maxWarp: 0.3, pAffine: 1, size: [10, 14], padMode };
      let seed = 0.123;
      const rng = () => (seed = (seed * 9301 + 49297) % 233280 / 233280);
      const state = seed;
      const mats = affineMatrices(n, [h, w], opts, rng);
      seed = state;
      const ours = affineTransform(opts).apply(x, 'train', rng);
      const py = spawnSync(python, [join(__dirname, 'grid_sample.py')], {
        input: JSON.stringify({ shape: [n, h, w, 3], size: [10, 14], data: Array.from(data), mats: mats.flat(), pad: padMode }),
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
      expect(py.status, py.stderr).toBe(0);
      const expected = JSON.parse(py.stdout) as number[];
      const got = ours.dataSync();
      const diff = Math.max(...expected.map((v, i) => Math.abs(v - got[i]!)));
      expect(diff).toBeLessThan(1e-4);
      ours.dispose();
    }
    x.dispose();
  });
});

describe('lighting', () => {
  it("is fastai's formula sigmoid((logit(x) + logit(b))·c) on hand values", () => {
    const values = [0, 0.1, 0.5, 0.9, 1];
    const x = tf.tensor4d(values.flatMap((v) => [v, v, v]), [1, 1, values.length, 3]);
    // maxLighting 0.2, p 1: b = uniform(0.4, 0.6) → draw 1 gives 0.6; c = exp(uniform(log 0.8, −log 0.8)) → draw 1 gives 1.25.
    const out = lightingTransform({ maxLighting: 0.2, pLighting: 1 }).apply(x, 'train', script(1, 1));
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    const expected = values.map((v) => sigmoid((logit(v) + logit(0.6)) * 1.25));
    expect(expected[2]).toBeCloseTo(0.6 ** 1.25 / (0.6 ** 1.25 + 0.4 ** 1.25), 12); // the same formula by hand at x = 0.5
    const got = Array.from(out.dataSync()).filter((_, i) => i % 3 === 0);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    tf.dispose([x, out]);
  });

  it('with probability p: a draw over p leaves brightness 0.5 and contrast 1 (the image unchanged)', () => {
    const x = tf.tensor4d([0.2, 0.4, 0.6], [1, 1, 1, 3]);
    const out = lightingTransform({ maxLighting: 0.5, pLighting: 0.75 }).apply(x, 'train', script(0.9, 0.9));
    Array.from(out.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([0.2, 0.4, 0.6][i]!, 5));
    expect(lightingTransform().activeOn('valid', [1, 1])).toBe(false);
    tf.dispose([x, out]);
  });
});

describe('augTransforms', () => {
  it("defaults are fastai's aug_transforms defaults", () => {
    const [affine, lighting] = augTransforms() as [ReturnType<typeof affineTransform>, ReturnType<typeof lightingTransform>];
    expect(affine.options).toEqual({ doFlip: true, flipVert: false, maxRotate: 10, minZoom: 1, maxZoom: 1.1, maxWarp: 0.2, pAffine: 0.75, padMode: 'reflection', minScale: 1 });
    expect(lighting.options).toEqual({ maxLighting: 0.2, pLighting: 0.75 });
    expect([affine.order, lighting.order, Normalize.fromStats([0, 0, 0], [1, 1, 1]).order]).toEqual([30, 40, 99]);
    expect(augTransforms({ maxLighting: 0 })).toHaveLength(1);
    expect(() => augTransforms({ minScale: 0.5 })).toThrow(/needs a size/);
  });
});

describe('item transforms', () => {
  // 8 wide, 4 high; each column's red value is its index × 30.
  const img: Pixels = { width: 8, height: 4, channels: 3, data: Uint8Array.from({ length: 8 * 4 * 3 }, (_, i) => (i % 3 === 0 ? Math.floor(i / 3) % 8 : 0) * 30) };
  const columns = (p: Pixels) => Array.from({ length: p.width }, (_, c) => p.data[c * 3]! / 30);

  it('Resize crops at the centre on the validation set and at a random place on the training set', () => {
    const r = Resize(4);
    expect(r.isRandom('train')).toBe(true);
    expect(r.isRandom('valid')).toBe(false);
    expect(columns(r.apply(img, 'valid', script()))).toEqual([2, 3, 4, 5]);
    expect(columns(r.apply(img, 'train', script(0, 0)))).toEqual([0, 1, 2, 3]);
    expect(columns(r.apply(img, 'train', script(0.999, 0.5)))).toEqual([3, 4, 5, 6]);
    expect(Resize(4, { method: 'squish' }).isRandom('train')).toBe(false);
  });

  it('RandomCrop cuts at the centre on valid and where the draws say on train; RandomResizedCrop stays inside the image', () => {
    expect(columns(RandomCrop([4, 2]).apply(img, 'valid', script()))).toEqual([3, 4]);
    expect(columns(RandomCrop([4, 2]).apply(img, 'train', script(0.99, 0)))).toEqual([6, 7]);
    const rrc = RandomResizedCrop(4, { minScale: 0.25 });
    let s = 1;
    const rng = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 20; i++) {
      const out = rrc.apply(img, 'train', rng);
      expect([out.width, out.height]).toEqual([4, 4]);
    }
    // Validation: the whole image squished to size + xtra (ceil(4·0.14/8)·8 = 8), then the centre 4×4.
    const v = rrc.apply(img, 'valid', script());
    expect([v.width, v.height]).toEqual([4, 4]);
  });

  it('refuses bad options with the option and value named', () => {
    expect(() => Resize(0)).toThrow(/Resize size.*0/);
    expect(() => Resize(8, { method: 'stretch' as 'crop' })).toThrow(/'stretch'/);
    expect(() => RandomResizedCrop(8, { minScale: 2 })).toThrow(/minScale.*2/);
    expect(() => lightingTransform({ maxLighting: 1 })).toThrow(/maxLighting/);
  });
});
