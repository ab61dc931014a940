import { FastvisionError } from '../../core/errors.js';
import type { PadMode } from '../resize.js';
import { affineTransform } from './affine.js';
import { lightingTransform } from './lighting.js';
import type { BatchTransform } from './transform.js';

/** Options of {@link augTransforms}, with fastai's defaults. */
export interface AugTransformsOptions {
  /** Multiplies `maxRotate`, `maxLighting` and `maxWarp`. Default 1. */
  mult?: number;
  /** Flip horizontally with probability 0.5. Default true. */
  doFlip?: boolean;
  /** Any of the 8 flips and quarter turns instead (fastai's `Dihedral`). Default false. */
  flipVert?: boolean;
  /** Largest rotation in degrees. Default 10. */
  maxRotate?: number;
  /** Default 1. */
  minZoom?: number;
  /** Default 1.1. */
  maxZoom?: number;
  /** Largest brightness and contrast change. Default 0.2. */
  maxLighting?: number;
  /** Largest perspective warp. Default 0.2. */
  maxWarp?: number;
  /** Probability of each of rotate, zoom and warp. Default 0.75. */
  pAffine?: number;
  /** Probability of each of brightness and contrast. Default 0.75. */
  pLighting?: number;
  /** Output size of the batch (presizing: items bigger, batches cut to this). Default: the items' size. */
  size?: number | [number, number];
  /** With `size`: below 1, first crop a random square of this much of the area or more (fastai's `RandomResizedCropGPU`). Default 1. */
  minScale?: number;
  /** How the resample fills outside the image. Default `'reflection'`. */
  padMode?: PadMode;
}

/**
 * fastai's `aug_transforms`: flip, warp, rotate, zoom (one affine/perspective
 * resample per batch, on the backend) and lighting, on training batches. With
 * `size`, validation batches are resized to it too.
 *
 * @param opts - See {@link AugTransformsOptions}; every default is fastai's.
 * @returns The batch transforms, for `batchTfms`.
 *
 * @example
 * ```ts
 * const dls = await DataLoaders.fromFolder('pets', { itemTfms: [Resize(460)], batchTfms: augTransforms({ size: 224, minScale: 0.75 }) });
 * ```
 */
export function augTransforms(opts: AugTransformsOptions = {}): BatchTransform[] {
  const { mult = 1, doFlip = true, flipVert = false, minZoom = 1, maxZoom = 1.1, pAffine = 0.75, pLighting = 0.75, minScale = 1, padMode = 'reflection' } = opts;
  const maxRotate = (opts.maxRotate ?? 10) * mult;
  const maxLighting = (opts.maxLighting ?? 0.2) * mult;
  const maxWarp = (opts.maxWarp ?? 0.2) * mult;
  if (!(minZoom > 0 && maxZoom >= minZoom)) throw new FastvisionError('BAD_OPTION', `augTransforms needs 0 < minZoom ≤ maxZoom, got minZoom ${minZoom}, maxZoom ${maxZoom}`);
  if (!(minScale > 0 && minScale <= 1)) throw new FastvisionError('BAD_OPTION', `augTransforms minScale must be in (0, 1], got ${minScale}`);
  if (minScale < 1 && opts.size == null) throw new FastvisionError('BAD_OPTION', 'augTransforms minScale < 1 needs a size (the crop is resized to it)');
  for (const [k, v] of Object.entries({ maxRotate, maxWarp, pAffine })) {
    if (!(Number.isFinite(v) && v >= 0)) throw new FastvisionError('BAD_OPTION', `augTransforms ${k} must be a number ≥ 0, got ${v}`);
  }
  const size = opts.size == null ? undefined : typeof opts.size === 'number' ? ([opts.size, opts.size] as [number, number]) : opts.size;
  const out: BatchTransform[] = [
    affineTransform({ doFlip, flipVert, maxRotate, minZoom, maxZoom, maxWarp, pAffine, padMode, ...(size ? { size } : {}), minScale }),
  ];
  if (maxLighting) out.push(lightingTransform({ maxLighting, pLighting }));
  return out;
}
