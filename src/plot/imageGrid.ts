import sharp from 'sharp';
import { writeFileAtomic } from '../core/atomicWrite.js';

/** One cell of a grid: uint8 RGB pixels (HWC) and a caption. */
export interface GridImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  caption?: string;
}

export interface ImageGridOptions {
  /** PNG to write. */
  file: string;
  /** Rows of the grid; default fastai's `int(sqrt(n))`. */
  rows?: number;
  /** Longest side of each image in the grid, in pixels. Default: the images' own, within 128–256. */
  cellSize?: number;
}

const captionHeight = 26;
const fontSize = 15;
const gap = 8;

/**
 * Writes a grid of captioned images as a PNG (atomically) and returns its path.
 * Layout as fastai's `get_grid`: `rows = int(sqrt(n))`, `cols = ceil(n / rows)`.
 */
export async function writeImageGrid(images: readonly GridImage[], opts: ImageGridOptions): Promise<string> {
  if (images.length === 0) throw new Error('fastvision: no images to draw');
  const rows = Math.max(1, Math.min(images.length, opts.rows ?? Math.floor(Math.sqrt(images.length))));
  const cols = Math.ceil(images.length / rows);
  const longest = Math.max(...images.map((im) => Math.max(im.width, im.height)));
  const cell = opts.cellSize ?? Math.max(128, Math.min(256, longest));
  const cellW = cell + gap;
  const cellH = cell + captionHeight + gap;
  const layers = await Promise.all(
    images.map(async (im, k) => {
      const input = await sharp(im.pixels, { raw: { width: im.width, height: im.height, channels: 3 } })
        .resize(cell, cell, { fit: 'inside' })
        .png()
        .toBuffer({ resolveWithObject: true });
      const left = (k % cols) * cellW + gap / 2 + Math.floor((cell - input.info.width) / 2);
      const top = Math.floor(k / cols) * cellH + captionHeight + gap / 2;
      return { input: input.data, left, top };
    }),
  );
  const captions = images
    .map((im, k) => {
      if (!im.caption) return '';
      const x = (k % cols) * cellW + cellW / 2;
      const y = Math.floor(k / cols) * cellH + captionHeight - 8;
      return `<text x="${x}" y="${y}" text-anchor="middle">${escapeXml(fit(im.caption, cell))}</text>`;
    })
    .join('');
  const width = cols * cellW;
  const height = rows * cellH;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, Arial, sans-serif" font-size="${fontSize}" fill="#222">${captions}</g></svg>`;
  const png = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([...layers, { input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toBuffer();
  await writeFileAtomic(opts.file, png);
  return opts.file;
}

/** Shortens a caption to what fits `width` pixels (DejaVu Sans averages about 0.55 em a character). */
function fit(text: string, width: number): string {
  const max = Math.max(4, Math.floor(width / (fontSize * 0.55)));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
