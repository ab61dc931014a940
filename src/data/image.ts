import sharp from 'sharp';
import { resizeImage, type ResizeSpec } from './resize.js';

export type { PadMode, ResizeMethod, ResizeSpec } from './resize.js';

/**
 * Images over this many pixels are refused as possible decompression bombs (10,000 × 10,000).
 *
 * @example
 * ```ts
 * const pixels = await decodeImage('huge.tif', spec, 4 * defaultLimitInputPixels);   // allow larger images
 * ```
 */
export const defaultLimitInputPixels = 100_000_000;

/**
 * An image that could not be decoded: the file, and what went wrong.
 *
 * @example
 * ```ts
 * try {
 *   await decodeImage('broken.jpg', { height: 224, width: 224, method: 'squish', padMode: 'reflection' });
 * } catch (err) {
 *   if (err instanceof BadImageError) console.log(err.file, err.reason);
 * }
 * ```
 */
export class BadImageError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`fastvision: cannot decode image '${file}': ${reason}`);
    this.name = 'BadImageError';
  }
}

const extendWith = { reflection: 'mirror', border: 'copy', zeros: 'background' } as const;

/**
 * Decodes an image file into `spec.height × spec.width` uint8 RGB pixels (HWC),
 * applying EXIF orientation; grayscale, CMYK, palette and alpha images all become
 * 3-channel RGB (alpha is dropped, as PIL's `convert('RGB')`). sharp decodes at full
 * size; the resize is fastai's `Resize` with PIL's bilinear resampling (see
 * {@link resizeImage}), so the pixels are those torchvision and fastai feed a model.
 *
 * @param input - A file path or an encoded image (JPEG, PNG, WebP, GIF, TIFF, AVIF...).
 * @param spec - Target height and width, resize method and padding.
 * @param limitInputPixels - Refuse larger images (decompression bombs). Default {@link defaultLimitInputPixels}.
 * @returns `height × width × 3` bytes, RGB, row-major.
 * @throws {@link BadImageError} naming the file and the reason.
 *
 * @example
 * ```ts
 * const pixels = await decodeImage('cover.jpg', { height: 224, width: 224, method: 'squish', padMode: 'reflection' });
 * ```
 */
export async function decodeImage(input: string | Buffer, spec: ResizeSpec, limitInputPixels = defaultLimitInputPixels): Promise<Uint8Array> {
  const file = typeof input === 'string' ? input : '<image buffer>';
  try {
    // 'truncated' fails on cut-off files but tolerates the harmless warnings many real JPEGs raise.
    const { data, info } = await sharp(input, { limitInputPixels, failOn: 'truncated', sequentialRead: true })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    const decoded = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
    return resizeImage(decoded, spec).data;
  } catch (err) {
    if (err instanceof BadImageError) throw err;
    const reason = (err as Error).message;
    throw new BadImageError(
      file,
      /pixel limit/i.test(reason) ? `${reason} (over ${limitInputPixels} pixels: a decompression bomb?)` : reason,
    );
  }
}
