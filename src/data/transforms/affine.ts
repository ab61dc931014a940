import * as tf from '../../core/tf.js';
import { FastvisionError } from '../../core/errors.js';
import { capabilities } from '../../engine/capabilities.js';
import { maxImageSide, type PadMode } from '../resize.js';
import { maybe, uniform, type BatchTransform, type Rng, type DatasetSplit } from './transform.js';
import { eye, fill, fromNorm, mul, projectiveParams, resizeMatrix, toNorm, type M3 } from './matrices.js';

/** The perspective matrix that takes the 4 points `from` to `to` (fastai's `find_coeffs`, solved by Gaussian elimination). */
export function perspective(from: readonly [number, number][], to: readonly [number, number][]): M3 {
  const a: number[][] = [];
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i]!;
    const [u, v] = to[i]!;
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
  for (let c = 0; c < 8; c++) {
    let pivot = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r;
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    [b[c], b[pivot]] = [b[pivot]!, b[c]!];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k < 8; k++) a[r]![k]! -= f * a[c]![k]!;
      b[r]! -= f * b[c]!;
    }
  }
  const x = b.map((v, i) => v / a[i]![i]!);
  return [x[0]!, x[1]!, x[2]!, x[3]!, x[4]!, x[5]!, x[6]!, x[7]!, 1];
}

/** Options of {@link affineTransform}: fastai's Flip, Rotate, Zoom, Warp and RandomResizedCropGPU, in one resample. */
export interface AffineOptions {
  /** Flip horizontally with probability 0.5. */
  doFlip?: boolean;
  /** Also flip vertically and transpose (fastai's Dihedral: one of the 8 symmetries of the square). */
  flipVert?: boolean;
  /** Largest rotation, in degrees. 0 for none. */
  maxRotate?: number;
  minZoom?: number;
  maxZoom?: number;
  /** Perspective warp magnitude. 0 for none. */
  maxWarp?: number;
  /** Probability of each of rotate, zoom and warp per image. */
  pAffine?: number;
  /** Output size `[height, width]` (default: the input's). */
  size?: [number, number];
  /** With `size`: crop a random share ≥ minScale of the area (per batch) first, as fastai's RandomResizedCropGPU. */
  minScale?: number;
  padMode?: PadMode;
}

/**
 * The draws of one batch: a matrix taking output coordinates to input coordinates, per
 * image, both in fastai's normalised coordinates (−1…1, corners aligned) — the `theta`
 * of PyTorch's `affine_grid`, with the warp's perspective composed after it. fastai's
 * order: flip, rotate, zoom composed as `flip · rotate · zoom`, corrected for the aspect
 * ratio (`_prepare_mat`), then the warp applied to the grid; a random-resized crop (per
 * batch) comes first in output coordinates.
 */
export function affineMatrices(n: number, inSize: [number, number], opts: AffineOptions, rng: Rng): M3[] {
  const [h, w] = inSize;
  const p = opts.pAffine ?? 0.75;
  let crop = eye();
  if (opts.size && (opts.minScale ?? 1) < 1) {
    // One crop for the whole batch (RandomResizedCropGPU's before_call), square as aug_transforms asks (ratio 1).
    const side = Math.min(Math.round(Math.sqrt(uniform(rng, opts.minScale!, 1) * w * h)), w, h);
    const left = Math.floor(rng() * (w - side + 1));
    const top = Math.floor(rng() * (h - side + 1));
    crop = mul(toNorm(w, h), mul([1, 0, left, 0, 1, top, 0, 0, 1], fromNorm(side, side)));
  }
  const out: M3[] = [];
  for (let i = 0; i < n; i++) {
    let a = eye();
    if (opts.flipVert) {
      const k = maybe(rng, 0.5, () => Math.floor(rng() * 8), 0);
      const xs = [1, -1, 1, -1, -1, 1, 1, -1][k]!;
      const ys = [1, 1, -1, 1, -1, -1, 1, -1][k]!;
      const m0 = [1, 1, 1, 0, 1, 0, 0, 0][k]!;
      const m1 = 1 - m0;
      a = mul(a, [xs * m0, xs * m1, 0, ys * m1, ys * m0, 0, 0, 0, 1]);
    } else if (opts.doFlip) {
      const s = maybe(rng, 0.5, () => -1, 1);
      a = mul(a, [s, 0, 0, 0, 1, 0, 0, 0, 1]);
    }
    if (opts.maxRotate) {
      const t = (maybe(rng, p, () => uniform(rng, -opts.maxRotate!, opts.maxRotate!), 0) * Math.PI) / 180;
      a = mul(a, [Math.cos(t), Math.sin(t), 0, -Math.sin(t), Math.cos(t), 0, 0, 0, 1]);
    }
    const [minZoom, maxZoom] = [opts.minZoom ?? 1, opts.maxZoom ?? 1];
    if (minZoom < 1 || maxZoom > 1) {
      const s = 1 / maybe(rng, p, () => uniform(rng, minZoom, maxZoom), 1);
      const [cx, cy] = [(1 - s) * (2 * rng() - 1), (1 - s) * (2 * rng() - 1)];
      a = mul(a, [s, 0, cx, 0, s, cy, 0, 0, 1]);
    }
    a[1] *= h / w;
    a[3] *= w / h;
    let warp = eye();
    if (opts.maxWarp) {
      const m = opts.maxWarp;
      const xt = maybe(rng, p, () => uniform(rng, -m, m), 0);
      const yt = maybe(rng, p, () => uniform(rng, -m, m), 0);
      const orig: [number, number][] = [[-1, -1], [-1, 1], [1, -1], [1, 1]];
      const targ: [number, number][] = [[-1 - yt, -1 - xt], [-1 + yt, 1 + xt], [1 + yt, -1 + xt], [1 - yt, 1 - xt]];
      warp = perspective(targ, orig);
    }
    // output norm → (crop) → affine → warp → input norm
    out.push(mul(warp, mul(a, crop)));
  }
  return out;
}

/**
 * fastai's affine augmentations (`Flip`/`Dihedral`, `Rotate`, `Zoom`, `Warp`, and with
 * `size` and `minScale` < 1 `RandomResizedCropGPU`) as **one** bilinear resample per
 * batch on the backend (`tf.image.transform`, a projective map per image). Training
 * batches only; on the validation set it only resizes to `size`, if given.
 *
 * @param opts - Which augmentations and how strong; see {@link augTransforms} for fastai's defaults.
 *
 * @example
 * ```ts
 * const tilt = affineTransform({ maxRotate: 30, pAffine: 1 });
 * ```
 */
export function affineTransform(opts: AffineOptions): BatchTransform & { readonly options: AffineOptions } {
  const pad = opts.padMode ?? 'reflection';
  if (!(pad in fill)) throw new FastvisionError('BAD_OPTION', `padMode must be 'reflection', 'zeros' or 'border', got '${pad}'`);
  const size = opts.size;
  if (size && !size.every((v) => Number.isInteger(v) && v >= 1 && v <= maxImageSide)) {
    throw new FastvisionError('BAD_OPTION', `augTransforms size must be whole numbers from 1 to ${maxImageSide}, got ${JSON.stringify(size)}`);
  }
  const resizes = (from: readonly [number, number]) => size != null && (size[0] !== from[0] || size[1] !== from[1]);
  return {
    kind: 'batch',
    options: { ...opts },
    name: `Affine(flip ${opts.flipVert ? 'dihedral' : !!opts.doFlip}, rotate ${opts.maxRotate ?? 0}°, zoom ${opts.minZoom ?? 1}–${opts.maxZoom ?? 1}, warp ${opts.maxWarp ?? 0}${size ? `, size ${size.join('x')}` : ''})`,
    order: 30,
    isRandom: (split) => split === 'train',
    activeOn: (split, from) => split === 'train' || resizes(from),
    outSize: (from) => size ?? [from[0], from[1]],
    ...(size ? { withSize: (s: [number, number]) => affineTransform({ ...opts, size: s }) } : {}),
    apply: (x, split, rng) => {
      const [n, h, w] = x.shape;
      if (split !== 'train') return resizeBatch(x, size ?? [h, w], pad);
      const [oh, ow] = size ?? [h, w];
      const toPixels = (m: M3) => mul(fromNorm(w, h), mul(m, toNorm(ow, oh)));
      return project(x, affineMatrices(n, [h, w], opts, rng).map(toPixels), [oh, ow], pad);
    },
  };
}

/**
 * A batch resized to `size` as fastai's affine transforms resize the validation set
 * (bilinear, corners aligned, no antialiasing): what a loaded model does after the item
 * transforms when its export has a batch `size`.
 */
export function resizeBatch(x: tf.Tensor4D, size: readonly [number, number], padMode: PadMode = 'reflection'): tf.Tensor4D {
  const [n, h, w] = x.shape;
  if (size[0] === h && size[1] === w) return x.clone();
  const m = resizeMatrix([h, w], size);
  return project(x, Array.from({ length: n }, () => m), size, padMode);
}

/**
 * A batch transform that only resizes (as `augTransforms({ size })` does the validation
 * set): how a loaded model replays its export's batch `size`.
 *
 * @param size - `[height, width]` of the output batch.
 * @param padMode - How the resample fills outside the image (only matters when it enlarges). Default `'reflection'`.
 *
 * @example
 * ```ts
 * const dls = await DataLoaders.fromFolder('data', { itemTfms: [Resize(460)], batchTfms: [batchResize([224, 224])] });
 * ```
 */
export function batchResize(size: [number, number], padMode: PadMode = 'reflection'): BatchTransform {
  return {
    kind: 'batch',
    name: `Resize batch to ${size.join('x')}`,
    order: 30,
    isRandom: () => false,
    activeOn: (_split, from) => size[0] !== from[0] || size[1] !== from[1],
    outSize: () => [size[0], size[1]],
    apply: (x) => resizeBatch(x, size, padMode),
  };
}

/** One bilinear projective resample of each image by its matrix (output pixel → input pixel). */
function project(x: tf.Tensor4D, ms: M3[], size: readonly [number, number], padMode: PadMode): tf.Tensor4D {
  const params = ms.map(projectiveParams);
  const warp = (img: tf.Tensor4D, p: number[][]) => tf.image.transform(img, tf.tensor2d(p, [p.length, 8], 'float32'), 'bilinear', fill[padMode], 0, [size[0], size[1]]);
  return tf.tidy(() => {
    if (capabilities().batchedTransform || ms.length === 1) return warp(x, params);
    return tf.concat(tf.split(x, ms.length, 0).map((img, i) => warp(img as tf.Tensor4D, [params[i]!])), 0) as tf.Tensor4D;
  });
}
