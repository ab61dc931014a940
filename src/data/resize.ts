import { resampleBilinear, type Box, type Pixels } from './resample.js';

/**
 * How an image becomes `size`: `squish` stretches it (fastai v1's default, and the
 * study's), `crop` fills the size and cuts the centre, `pad` fits it inside and pads.
 */
export type ResizeMethod = 'squish' | 'crop' | 'pad';

/** fastai's `PadMode` for `pad`: mirror the edge (fastai's default), zeros, or repeat the border. */
export type PadMode = 'reflection' | 'zeros' | 'border';

/**
 * The largest image side fastvision trains or predicts at (and an export may ask
 * for): 2048 px. A ResNet's activations at 4096² outgrow most machines' memory.
 *
 * @example
 * ```ts
 * maxImageSide;   // 2048
 * ```
 */
export const maxImageSide = 2048;

/** Everything that decides a decoded image's pixels: part of its cache key. */
export interface ResizeSpec {
  /** Output height in pixels. */
  height: number;
  /** Output width in pixels. */
  width: number;
  /** How the image is fitted to the size. */
  method: ResizeMethod;
  /** Padding, for `method: 'pad'`. */
  padMode: PadMode;
}

/**
 * fastai's `Resize` on a decoded image: `crop` cuts the largest box of the target's
 * aspect ratio (centred by default, as on the validation set), `pad` pads the image
 * (at its own resolution) to that aspect ratio, `squish` takes it whole; then PIL's
 * bilinear resampling to the size. Box sizes and offsets are truncated to whole
 * pixels exactly as fastai's `Resize.encodes` and `crop_pad` do.
 *
 * @param src - Decoded uint8 HWC pixels.
 * @param spec - Target size, method and padding.
 * @param pcts - Where the box sits, as fractions of the free room (fastai's `pcts`): `[0.5, 0.5]` centred (default); random on the training set.
 * @returns `spec.height × spec.width` pixels with `src.channels` channels.
 *
 * @example
 * ```ts
 * const out = resizeImage({ data, width: 500, height: 375, channels: 3 }, { height: 224, width: 224, method: 'crop', padMode: 'reflection' });
 * ```
 */
export function resizeImage(src: Pixels, spec: ResizeSpec, pcts: readonly [number, number] = [0.5, 0.5]): Pixels {
  const { width, height } = spec;
  if (spec.method === 'squish') return resampleBilinear(src, width, height);
  // fastai: m = w/W if op(w/W, h/H) else h/H, with op `<` for crop and `>` for pad.
  const [rw, rh] = [src.width / width, src.height / height];
  const m = (spec.method === 'crop' ? rw < rh : rw > rh) ? rw : rh;
  const box = { width: Math.max(1, Math.trunc(m * width)), height: Math.max(1, Math.trunc(m * height)) };
  const left = Math.trunc(pcts[0] * (src.width - box.width));
  const top = Math.trunc(pcts[1] * (src.height - box.height));
  if (spec.method === 'crop') return resampleBilinear(src, width, height, { left, top, ...box });
  const padded = pad(src, { left: -left, top: -top, width: box.width, height: box.height }, spec.padMode);
  return resampleBilinear(padded, width, height);
}

/**
 * The image placed at `(at.left, at.top)` of an `at.width × at.height` canvas, the
 * rest filled as torchvision's `pad` fills it on PIL images (numpy's `reflect`,
 * `edge`, `constant` 0), which fastai's `PadMode` names `reflection`, `border`, `zeros`.
 */
export function pad(src: Pixels, at: Box, mode: PadMode): Pixels {
  const c = src.channels;
  const out = new Uint8Array(at.width * at.height * c);
  const xs = Int32Array.from({ length: at.width }, (_, x) => sourceIndex(x - at.left, src.width, mode));
  for (let y = 0; y < at.height; y++) {
    const sy = sourceIndex(y - at.top, src.height, mode);
    if (sy < 0) continue; // zeros
    for (let x = 0; x < at.width; x++) {
      const sx = xs[x]!;
      if (sx < 0) continue;
      const from = (sy * src.width + sx) * c;
      out.set(src.data.subarray(from, from + c), (y * at.width + x) * c);
    }
  }
  return { data: out, width: at.width, height: at.height, channels: c };
}

/** The source index for canvas index `i` (−1 for a zero), along an axis of `n` pixels. */
function sourceIndex(i: number, n: number, mode: PadMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === 'zeros') return -1;
  if (mode === 'border' || n === 1) return i < 0 ? 0 : n - 1;
  // numpy's 'reflect' mirrors about the edge pixels without repeating them, again and again.
  const period = 2 * (n - 1);
  const j = ((i % period) + period) % period;
  return j < n ? j : period - j;
}
