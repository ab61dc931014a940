import { open } from 'node:fs/promises';
import sharp from 'sharp';
import { FastvisionError } from '../core/errors.js';
import { resizeImage, type ResizeSpec } from './resize.js';
import type { Pixels } from './resample.js';

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
export class BadImageError extends FastvisionError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super('BAD_IMAGE', `fastvision: cannot decode image '${file}': ${reason}`);
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
 * @param options - `limitInputPixels` (refuse larger images: decompression bombs; default {@link defaultLimitInputPixels}; a number is taken as this) and `allowVector` (decode SVG and PDF too; default false).
 * @returns `height × width × 3` bytes, RGB, row-major.
 * @throws {@link BadImageError} naming the file and the reason.
 *
 * @example
 * ```ts
 * const pixels = await decodeImage('cover.jpg', { height: 224, width: 224, method: 'squish', padMode: 'reflection' });
 * ```
 */
export async function decodeImage(input: string | Buffer, spec: ResizeSpec, options: number | DecodeOptions = {}): Promise<Uint8Array> {
  const decoded = await decodePixels(input, options);
  try {
    return resizeImage(decoded, spec).data;
  } catch (err) {
    throw new BadImageError(typeof input === 'string' ? input : '<image buffer>', (err as Error).message);
  }
}

/**
 * Decodes an image at its own size into uint8 RGB pixels (HWC), with EXIF orientation
 * applied and alpha dropped, as {@link decodeImage} does before resizing: what item
 * transforms start from.
 *
 * @param input - A file path or an encoded image.
 * @param options - As {@link decodeImage}'s.
 * @returns The pixels with their width and height.
 * @throws {@link BadImageError} naming the file and the reason.
 *
 * @example
 * ```ts
 * const { width, height } = await decodePixels('cover.jpg');
 * ```
 */
export async function decodePixels(input: string | Buffer, options: number | DecodeOptions = {}): Promise<Pixels> {
  const { limitInputPixels = defaultLimitInputPixels, allowVector = false } = typeof options === 'number' ? { limitInputPixels: options } : options;
  const file = typeof input === 'string' ? input : '<image buffer>';
  try {
    if (!allowVector) {
      const kind = vectorKind(typeof input === 'string' ? await head(input) : input.subarray(0, 512));
      if (kind) throw new BadImageError(file, `it is ${kind}, a vector format, which fastvision does not decode unless asked (allowVector: true): rendering one can read other files`);
    }
    // 'truncated' fails on cut-off files but tolerates the harmless warnings many real JPEGs raise.
    const { data, info } = await sharp(input, { limitInputPixels, failOn: 'truncated', sequentialRead: true })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  } catch (err) {
    if (err instanceof BadImageError) throw err;
    const reason = (err as Error).message;
    throw new BadImageError(
      file,
      /pixel limit/i.test(reason) ? `${reason} (over ${limitInputPixels} pixels: a decompression bomb?)` : reason,
    );
  }
}

/** Options of {@link decodeImage}. */
export interface DecodeOptions {
  /** Refuse images with more pixels (decompression bombs). Default {@link defaultLimitInputPixels}. */
  limitInputPixels?: number;
  /**
   * Decode vector images (SVG, PDF) too. Default false: they are refused whatever their
   * file name says, because rendering one can pull other files into the pixels (an SVG
   * `<image href>` of a file beside it).
   */
  allowVector?: boolean;
}

/** The first bytes of a file (content decides the format, not the name). */
async function head(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** `'an SVG'` or `'a PDF'` when the bytes are one (XML text or a PDF header), else undefined. */
function vectorKind(bytes: Uint8Array): string | undefined {
  const text = Buffer.from(bytes).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (text.startsWith('%PDF')) return 'a PDF';
  if (text.startsWith('<')) return 'an SVG (or other XML)';
  return undefined;
}
