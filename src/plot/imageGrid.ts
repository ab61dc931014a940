import sharp from 'sharp';
import { writeFileAtomic } from '../core/atomicWrite.js';
import { FastvisionError } from '../core/errors.js';

/** One cell of a grid: uint8 RGB pixels (HWC) and a caption. */
export interface GridImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  caption?: string;
}

/**
 * Options of {@link writeImageGrid}.
 */
export interface ImageGridOptions {
  /** PNG to write. */
  file: string;
  /** Rows of the grid; default fastai's `int(sqrt(n))`. */
  rows?: number;
  /** Longest side of each image in the grid, in pixels. Default: the images' own, within 128–256. */
  cellSize?: number;
  /** A title above the grid (fastai's suptitle). */
  title?: string;
}

const captionHeight = 26;
const titleHeight = 34;
const fontSize = 15;
const gap = 8;

/**
 * Writes a grid of captioned images as a PNG (atomically) and returns its path.
 * Layout as fastai's `get_grid`: `rows = int(sqrt(n))`, `cols = ceil(n / rows)`.
 *
 * @param images - The cells, in reading order.
 * @param opts - The PNG file, and optionally rows, cell size and a title.
 *
 * @example
 * ```ts
 * const { pixels, width, height } = await dls.image(0);
 * await writeImageGrid([{ pixels, width, height, caption: dls.vocab[0]! }], { file: 'one.png' });
 * ```
 */
export async function writeImageGrid(images: readonly GridImage[], opts: ImageGridOptions): Promise<string> {
  if (images.length === 0) throw new FastvisionError('BAD_OPTION', 'fastvision: no images to draw');
  const rows = Math.max(1, Math.min(images.length, opts.rows ?? Math.floor(Math.sqrt(images.length))));
  const cols = Math.ceil(images.length / rows);
  const longest = Math.max(...images.map((im) => Math.max(im.width, im.height)));
  const cell = opts.cellSize ?? Math.max(128, Math.min(256, longest));
  // Wide enough for the longest caption (up to twice the image), so captions are not cut.
  const captionWidth = Math.max(0, ...images.map((im) => textWidth(im.caption ?? '')));
  const cellW = Math.max(cell, Math.min(2 * cell, captionWidth)) + gap;
  const cellH = cell + captionHeight + gap;
  const top0 = opts.title ? titleHeight : 0;
  const width = Math.max(cols * cellW, opts.title ? textWidth(opts.title, fontSize + 3) + 2 * gap : 0);
  const height = top0 + rows * cellH;
  const offset = Math.floor((width - cols * cellW) / 2); // centre the grid under a wider title
  const layers = await Promise.all(
    images.map(async (im, k) => {
      const input = await sharp(im.pixels, { raw: { width: im.width, height: im.height, channels: 3 } })
        .resize(cell, cell, { fit: 'inside' })
        .png()
        .toBuffer({ resolveWithObject: true });
      const left = offset + (k % cols) * cellW + Math.floor((cellW - input.info.width) / 2);
      const top = top0 + Math.floor(k / cols) * cellH + captionHeight + gap / 2;
      return { input: input.data, left, top };
    }),
  );
  const captions = images
    .map((im, k) => {
      if (!im.caption) return '';
      const x = offset + (k % cols) * cellW + cellW / 2;
      const y = top0 + Math.floor(k / cols) * cellH + captionHeight - 8;
      return `<text x="${x}" y="${y}" text-anchor="middle">${escapeXml(fit(im.caption, cellW - gap))}</text>`;
    })
    .join('');
  const heading = opts.title
    ? `<text x="${width / 2}" y="${titleHeight - 10}" text-anchor="middle" font-size="${fontSize + 3}" font-weight="bold">${escapeXml(opts.title)}</text>`
    : '';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, Arial, sans-serif" font-size="${fontSize}" fill="#222">${heading}${captions}</g></svg>`;
  const png = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([...layers, { input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toBuffer();
  await writeFileAtomic(opts.file, png);
  return opts.file;
}

/** Estimated width of a text in DejaVu Sans (about 0.6 em a character, bold titles a little more). */
function textWidth(text: string, size = fontSize): number {
  return Math.ceil(text.length * size * 0.6);
}

/** Shortens a caption to what fits `width` pixels. */
function fit(text: string, width: number): string {
  const max = Math.max(4, Math.floor(width / (fontSize * 0.6)));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
