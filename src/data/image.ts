import sharp from 'sharp';

/**
 * How an image becomes `size`: `squish` stretches it (fastai v1's default, and the
 * study's), `crop` fills the size and cuts the centre, `pad` fits it inside and pads.
 */
export type ResizeMethod = 'squish' | 'crop' | 'pad';

/** fastai's `PadMode` for `pad`: mirror the edge (fastai's default), zeros, or repeat the border. */
export type PadMode = 'reflection' | 'zeros' | 'border';

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
 * 3-channel RGB (alpha is dropped, as PIL's `convert('RGB')`).
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
  const { height, width } = spec;
  const file = typeof input === 'string' ? input : '<image buffer>';
  try {
    // 'truncated' fails on cut-off files but tolerates the harmless warnings many real JPEGs raise.
    let img = sharp(input, { limitInputPixels, failOn: 'truncated', sequentialRead: true }).rotate();
    if (spec.method === 'squish') img = img.resize(width, height, { fit: 'fill', kernel: 'linear' });
    else if (spec.method === 'crop') img = img.resize(width, height, { fit: 'cover', position: 'centre', kernel: 'linear' });
    else img = await padded(img, spec);
    const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== width || info.height !== height) {
      throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×3`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    if (err instanceof BadImageError) throw err;
    const reason = (err as Error).message;
    throw new BadImageError(
      file,
      /pixel limit/i.test(reason) ? `${reason} (over ${limitInputPixels} pixels: a decompression bomb?)` : reason,
    );
  }
}

/** Fits the image inside the size, then pads the rest (centred) with `padMode`. */
async function padded(img: sharp.Sharp, { height, width, padMode }: ResizeSpec): Promise<sharp.Sharp> {
  const inside = await img
    .resize(width, height, { fit: 'inside', kernel: 'linear' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width: w, height: h, channels } = inside.info;
  const top = Math.floor((height - h) / 2);
  const left = Math.floor((width - w) / 2);
  return sharp(inside.data, { raw: { width: w, height: h, channels } }).extend({
    top,
    bottom: height - h - top,
    left,
    right: width - w - left,
    extendWith: extendWith[padMode],
    background: { r: 0, g: 0, b: 0 },
  });
}
