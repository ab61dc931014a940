/**
 * An image's model input in a web page, made by the same code `predict` runs in Node:
 * the export's item transforms (PIL-exact resampling, as on the validation set), the
 * same float32 normalisation tables, and the same batch resize on the backend.
 * No DOM and no tfjs import here: the page passes its `tf` in.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { normalizeInto } from '../data/normTables.js';
import type { Pixels } from '../data/resample.js';
import { itemTfmsOfExport } from '../data/transforms/itemTransforms.js';
import { fill, projectiveParams, resizeMatrix } from '../data/transforms/matrices.js';
import type { AnyExportMeta } from '../learner/exportFormat.js';

/** The tfjs functions the page's preprocessing uses (from `@tensorflow/tfjs` or its parts). */
export type PreprocessTf = Pick<typeof tfc, 'tensor4d' | 'tensor1d' | 'tensor2d' | 'tidy' | 'sub' | 'div' | 'image'>;

/** Decoded pixels as a canvas gives them: RGBA (`getImageData`) or RGB, row-major. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/**
 * RGB pixels from a canvas's RGBA: the alpha channel dropped, as fastvision's decoder
 * drops it (sharp's `removeAlpha`), not composited onto a background.
 *
 * @param image - `ctx.getImageData(…)`, or any RGBA / RGB pixels with their size.
 * @returns uint8 HWC RGB pixels.
 *
 * @example
 * ```ts
 * const pixels = rgbPixels(ctx.getImageData(0, 0, canvas.width, canvas.height));
 * ```
 */
export function rgbPixels(image: RawImage): Pixels {
  const { data, width, height } = image;
  const n = width * height;
  if (data.length === n * 3) return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width, height, channels: 3 };
  if (data.length !== n * 4) throw new RangeError(`fastvision: ${data.length} bytes are not ${width}×${height} RGBA or RGB pixels`);
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    out[i * 3] = data[j]!;
    out[i * 3 + 1] = data[j + 1]!;
    out[i * 3 + 2] = data[j + 2]!;
  }
  return { data: out, width, height, channels: 3 };
}

/**
 * The model input `[1, h, w, 3]` for one decoded image, as `learn.predict` makes it
 * from the same pixels. The caller disposes the tensor.
 *
 * @param tf - The page's tfjs.
 * @param pixels - Decoded RGB pixels ({@link rgbPixels}).
 * @param meta - The export's `fastvision.json`.
 * @returns float32 `[1, h, w, 3]`.
 *
 * @example
 * ```ts
 * const x = preprocess(tf, rgbPixels(imageData), meta);
 * ```
 */
export function preprocess(tf: PreprocessTf, pixels: Pixels, meta: AnyExportMeta): tfc.Tensor4D {
  let img = pixels;
  for (const t of itemTfmsOfExport(meta)) img = t.apply(img, 'valid', () => 0.5);
  const shape: [number, number, number, number] = [1, img.height, img.width, 3];
  const stats = meta.normalize ?? undefined;
  const size = meta.size;
  if (!size || (size[0] === img.height && size[1] === img.width)) {
    return tf.tensor4d(normalizeInto(img.data, new Float32Array(img.data.length), stats), shape);
  }
  // Presized exports: [0, 1] pixels, the batch resize, then Normalize — the loader's order.
  return tf.tidy(() => {
    const unit = tf.tensor4d(normalizeInto(img.data, new Float32Array(img.data.length)), shape);
    const params = tf.tensor2d([projectiveParams(resizeMatrix([img.height, img.width], size))], [1, 8], 'float32');
    const resized = tf.image.transform(unit, params, 'bilinear', fill.reflection, 0, [size[0], size[1]]);
    return stats ? tf.div(tf.sub(resized, tf.tensor1d(stats.mean)), tf.tensor1d(stats.std)) : resized;
  });
}
