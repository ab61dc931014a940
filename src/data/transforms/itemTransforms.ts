import { FastvisionError } from '../../core/errors.js';
import { resampleBilinear, type Pixels } from '../resample.js';
import { maxImageSide, resizeImage, type PadMode, type ResizeMethod } from '../resize.js';
import type { ItemTransform, ItemTransformConfig, Rng, DatasetSplit } from './transform.js';
import { uniform } from './transform.js';

/** An output size: one number for a square, or `[height, width]` (fastai's order). */
export type ImageSize = number | [number, number];

/** `[height, width]` from a number or a pair, checked. */
function sizeOf(size: ImageSize, what: string): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  for (const v of [h, w]) {
    if (!(Number.isInteger(v) && v >= 1 && v <= maxImageSide)) throw new FastvisionError('BAD_OPTION', `${what} size must be whole numbers from 1 to ${maxImageSide}, got ${JSON.stringify(size)}`);
  }
  return [h, w];
}

/** Options of {@link Resize}. */
export interface ResizeOptions {
  /** `'crop'` (fastai's default), `'squish'` or `'pad'`. */
  method?: ResizeMethod;
  /** Padding for `'pad'`. Default `'reflection'`. */
  padMode?: PadMode;
}

/**
 * fastai's `Resize(size, method=ResizeMethod.Crop)`: on the training set the box of
 * the target's aspect ratio sits at a random place (`crop`, `pad`), on the validation
 * set at the centre; `squish` stretches the whole image. PIL's bilinear resampling.
 *
 * @param size - A number for square, or `[height, width]`.
 * @param opts - `method` (default `'crop'`), `padMode` (default `'reflection'`).
 *
 * @example
 * ```ts
 * const dls = await DataLoaders.fromCsv('labels.csv', { itemTfms: [Resize(460)], batchTfms: augTransforms({ size: 224 }) });
 * ```
 */
export function Resize(size: ImageSize, opts: ResizeOptions = {}): ItemTransform {
  return resizeTransform(size, opts, false);
}

/**
 * The `size` shorthand of the DataLoaders factories: fastai v1's `size=` resize, the box
 * centred on both sets (deterministic, so decoded images and body features cache).
 */
export function centredResize(size: ImageSize, opts: ResizeOptions = {}): ItemTransform {
  return resizeTransform(size, opts, true);
}

function resizeTransform(size: ImageSize, opts: ResizeOptions, centred: boolean): ItemTransform {
  const [height, width] = sizeOf(size, 'Resize');
  const { method = 'crop', padMode = 'reflection' } = opts;
  if (!['crop', 'squish', 'pad'].includes(method)) throw new FastvisionError('BAD_OPTION', `Resize method must be 'crop', 'squish' or 'pad', got '${String(method)}'`);
  if (!['reflection', 'zeros', 'border'].includes(padMode)) throw new FastvisionError('BAD_OPTION', `Resize padMode must be 'reflection', 'zeros' or 'border', got '${String(padMode)}'`);
  const spec = { height, width, method, padMode };
  const random = (split: DatasetSplit) => !centred && split === 'train' && method !== 'squish';
  return {
    kind: 'item',
    name: `Resize(${height}x${width}, ${method}${centred ? ', centred' : ''})`,
    size: [height, width],
    isRandom: random,
    apply: (img, split, rng) => resizeImage(img, spec, random(split) ? [rng(), rng()] : [0.5, 0.5]),
    withSize: (s) => resizeTransform(s, opts, centred),
    config: { type: 'Resize', size: [height, width], method, padMode, ...(centred ? { centred } : {}) },
  };
}

/** Options of {@link RandomResizedCrop}, with fastai's defaults. */
export interface RandomResizedCropOptions {
  /** Smallest share of the image's area a crop covers. Default 0.08. */
  minScale?: number;
  /** Aspect ratios (width / height) a crop may have. Default `[3/4, 4/3]`. */
  ratio?: [number, number];
  /** Validation: resize to `size + valXtra·size` (rounded up to 8) then cut the centre. Default 0.14. */
  valXtra?: number;
}

/**
 * fastai's `RandomResizedCrop`: on the training set a random crop of 8–100% of the
 * area with a random aspect ratio in 3/4–4/3 (ten tries, then the largest centred
 * crop the ratios allow), resized to `size`; on the validation set the whole image
 * resized a little larger, then centre-cropped.
 *
 * @param size - A number for square, or `[height, width]`.
 * @param opts - `minScale` (0.08), `ratio` ([3/4, 4/3]), `valXtra` (0.14).
 *
 * @example
 * ```ts
 * const dls = await DataLoaders.fromFolder('data', { itemTfms: [RandomResizedCrop(224, { minScale: 0.35 })] });
 * ```
 */
export function RandomResizedCrop(size: ImageSize, opts: RandomResizedCropOptions = {}): ItemTransform {
  const [height, width] = sizeOf(size, 'RandomResizedCrop');
  const { minScale = 0.08, ratio = [3 / 4, 4 / 3], valXtra = 0.14 } = opts;
  if (!(minScale > 0 && minScale <= 1)) throw new FastvisionError('BAD_OPTION', `RandomResizedCrop minScale must be in (0, 1], got ${minScale}`);
  if (!(ratio[0] > 0 && ratio[1] >= ratio[0])) throw new FastvisionError('BAD_OPTION', `RandomResizedCrop ratio must be [low, high] with 0 < low ≤ high, got ${JSON.stringify(ratio)}`);
  if (!(valXtra >= 0)) throw new FastvisionError('BAD_OPTION', `RandomResizedCrop valXtra must be ≥ 0, got ${valXtra}`);
  const apply = (img: Pixels, split: DatasetSplit, rng: Rng): Pixels => {
    const [w, h] = [img.width, img.height];
    if (split === 'valid') {
      const xtra = Math.ceil((Math.max(width, height) * valXtra) / 8) * 8;
      const big = resampleBilinear(img, width + xtra, height + xtra);
      return resampleBilinear(big, width, height, { left: Math.trunc(xtra / 2), top: Math.trunc(xtra / 2), width, height });
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      const area = uniform(rng, minScale, 1) * w * h;
      const r = Math.exp(uniform(rng, Math.log(ratio[0]), Math.log(ratio[1])));
      const nw = Math.round(Math.sqrt(area * r));
      const nh = Math.round(Math.sqrt(area / r));
      if (nw <= w && nh <= h && nw >= 1 && nh >= 1) {
        const left = Math.floor(rng() * (w - nw + 1));
        const top = Math.floor(rng() * (h - nh + 1));
        return resampleBilinear(img, width, height, { left, top, width: nw, height: nh });
      }
    }
    const [cw, ch] = w / h < ratio[0] ? [w, Math.trunc(w / ratio[0])] : w / h > ratio[1] ? [Math.trunc(h * ratio[1]), h] : [w, h];
    return resampleBilinear(img, width, height, { left: Math.floor((w - cw) / 2), top: Math.floor((h - ch) / 2), width: cw, height: ch });
  };
  return {
    kind: 'item',
    name: `RandomResizedCrop(${height}x${width}, minScale ${minScale})`,
    size: [height, width],
    isRandom: (split) => split === 'train',
    apply,
    withSize: (s) => RandomResizedCrop(s, opts),
    config: { type: 'RandomResizedCrop', size: [height, width], minScale, ratio: [ratio[0], ratio[1]], valXtra },
  };
}

/**
 * fastai's `RandomCrop(size)`: a `size` crop at a random place on the training set,
 * the centre on the validation set (no resampling). The image must be at least `size`.
 *
 * @param size - A number for square, or `[height, width]`.
 *
 * @example
 * ```ts
 * const dls = await DataLoaders.fromFolder('data', { itemTfms: [Resize(256, { method: 'squish' }), RandomCrop(224)] });
 * ```
 */
export function RandomCrop(size: ImageSize): ItemTransform {
  const [height, width] = sizeOf(size, 'RandomCrop');
  return {
    kind: 'item',
    name: `RandomCrop(${height}x${width})`,
    size: [height, width],
    isRandom: (split) => split === 'train',
    apply: (img, split, rng) => {
      if (img.width < width || img.height < height) {
        throw new FastvisionError('BAD_OPTION', `RandomCrop(${height}x${width}) got a ${img.height}x${img.width} image; resize it first (e.g. itemTfms: [Resize(${Math.max(height, width)}), RandomCrop(...)])`);
      }
      const left = split === 'train' ? Math.floor(rng() * (img.width - width + 1)) : Math.floor((img.width - width) / 2);
      const top = split === 'train' ? Math.floor(rng() * (img.height - height + 1)) : Math.floor((img.height - height) / 2);
      return resampleBilinear(img, width, height, { left, top, width, height });
    },
    withSize: (s) => RandomCrop(s),
    config: { type: 'RandomCrop', size: [height, width] },
  };
}

/**
 * The item transform a {@link ItemTransformConfig} describes (an export's preprocessing).
 *
 * @param config - As kept in `fastvision.json`.
 * @returns The transform.
 *
 * @example
 * ```ts
 * const tfm = itemTransformFromConfig({ type: 'Resize', size: [224, 224], method: 'crop', padMode: 'reflection' });
 * ```
 */
export function itemTransformFromConfig(config: ItemTransformConfig): ItemTransform {
  switch (config.type) {
    case 'Resize':
      return resizeTransform(config.size, { method: config.method, padMode: config.padMode }, config.centred ?? false);
    case 'RandomResizedCrop':
      return RandomResizedCrop(config.size, { minScale: config.minScale, ratio: config.ratio, valXtra: config.valXtra });
    case 'RandomCrop':
      return RandomCrop(config.size);
    default:
      throw new FastvisionError('BAD_OPTION', `unknown item transform '${(config as { type: string }).type}'`);
  }
}

/**
 * The item transforms an export's metadata describes: its `itemTfms`, or the one centred
 * resize its `resize` says (the `size` option). Shared by `loadLearner` and the browser page.
 */
export function itemTfmsOfExport(cfg: { resize: { height: number; width: number; method: ResizeMethod; padMode: PadMode }; itemTfms?: ItemTransformConfig[] | undefined }): ItemTransform[] {
  if (cfg.itemTfms) return cfg.itemTfms.map(itemTransformFromConfig);
  return [centredResize([cfg.resize.height, cfg.resize.width], { method: cfg.resize.method, padMode: cfg.resize.padMode })];
}
