import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

export type Rgb = [number, number, number];

/** A fresh temporary directory for one test file's images. */
export function tempDir(prefix = 'fastvision-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface ImageSpec {
  width?: number;
  height?: number;
  /** Solid colour; default a horizontal gradient. */
  color?: Rgb;
  /** Left and right halves in two colours. */
  halves?: [Rgb, Rgb];
  format?: 'png' | 'jpeg' | 'webp';
  variant?: 'rgb' | 'grayscale' | 'cmyk' | 'alpha' | 'palette';
  /** EXIF orientation tag (1–8). */
  orientation?: number;
}

/** Raw RGB pixels for a spec: a solid colour, two halves, or a red→blue gradient. */
export function pixels({ width = 32, height = 32, color, halves }: ImageSpec): Buffer {
  const buf = Buffer.alloc(width * height * 3);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const px: Rgb = color ?? (halves ? halves[c < width / 2 ? 0 : 1] : [Math.round((255 * c) / (width - 1)), 64, 255 - Math.round((255 * c) / (width - 1))]);
      buf.set(px, (r * width + c) * 3);
    }
  }
  return buf;
}

/** Writes a generated image; returns its path. */
export async function writeImage(file: string, spec: ImageSpec = {}): Promise<string> {
  const { width = 32, height = 32, format = 'png', variant = 'rgb', orientation } = spec;
  mkdirSync(dirname(file), { recursive: true });
  let img = sharp(pixels(spec), { raw: { width, height, channels: 3 } });
  if (variant === 'grayscale') img = img.grayscale();
  if (variant === 'alpha') img = img.ensureAlpha(0.5);
  if (variant === 'cmyk') img = img.toColourspace('cmyk');
  if (orientation) img = img.withMetadata({ orientation });
  if (format === 'png') img = img.png(variant === 'palette' ? { palette: true } : {});
  else if (format === 'jpeg') img = img.jpeg({ quality: 95 });
  else img = img.webp({ lossless: true });
  await img.toFile(file);
  return file;
}

/** `n` small solid-colour PNGs named `<prefix><i>.png` under `dir`, cycling through `colors`. */
export async function writeImages(dir: string, n: number, colors: Rgb[], prefix = 'img'): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}${i}.png`;
    await writeImage(join(dir, name), { color: colors[i % colors.length]!, width: 16, height: 16 });
    names.push(name);
  }
  return names;
}
