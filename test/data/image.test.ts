import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BadImageError, decodeImage, type ResizeSpec } from '../../src/data/image.js';
import { tempDir, writeImage, type Rgb } from '../helpers/images.js';

const dir = tempDir();
const spec = (height: number, width: number, method: ResizeSpec['method'] = 'squish', padMode: ResizeSpec['padMode'] = 'reflection'): ResizeSpec => ({
  height,
  width,
  method,
  padMode,
});
const px = (data: Uint8Array, width: number, r: number, c: number): Rgb => [...data.subarray((r * width + c) * 3, (r * width + c) * 3 + 3)] as Rgb;
const close = (a: Rgb, b: Rgb, tol: number) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

describe('decodeImage', () => {
  const orange: Rgb = [230, 120, 20];

  it.each([
    ['png', 'rgb', 0],
    ['jpeg', 'rgb', 3],
    ['webp', 'rgb', 0],
    ['png', 'palette', 2],
    ['png', 'alpha', 3], // resized in premultiplied space: ±2 levels at alpha 0.5
  ] as const)('%s (%s) decodes to 3-channel RGB with the right colour', async (format, variant, tol) => {
    const file = await writeImage(join(dir, `solid-${variant}.${format}`), { color: orange, format, variant });
    const data = await decodeImage(file, spec(8, 8));
    expect(data).toHaveLength(8 * 8 * 3);
    expect(close(px(data, 8, 3, 3), orange, tol)).toBe(true);
  });

  it('grayscale becomes RGB with equal channels', async () => {
    const file = await writeImage(join(dir, 'gray.png'), { color: orange, variant: 'grayscale' });
    const data = await decodeImage(file, spec(8, 8));
    const [r, g, b] = px(data, 8, 4, 4);
    expect(r).toBe(g);
    expect(g).toBe(b);
  });

  it('CMYK JPEG becomes RGB close to the original colour', async () => {
    const file = await writeImage(join(dir, 'cmyk.jpg'), { color: orange, format: 'jpeg', variant: 'cmyk' });
    const data = await decodeImage(file, spec(8, 8));
    expect(data).toHaveLength(8 * 8 * 3);
    expect(close(px(data, 8, 4, 4), orange, 24)).toBe(true);
  });

  it('applies EXIF orientation', async () => {
    // 40 wide × 20 high, red left half; orientation 6 = rotate 90° clockwise to display.
    const file = await writeImage(join(dir, 'rotated.jpg'), { width: 40, height: 20, halves: [[255, 0, 0], [0, 0, 255]], format: 'jpeg', orientation: 6 });
    const data = await decodeImage(file, spec(40, 20)); // displayed: 20 wide × 40 high, red on top
    expect(close(px(data, 20, 5, 10), [255, 0, 0], 40)).toBe(true);
    expect(close(px(data, 20, 35, 10), [0, 0, 255], 40)).toBe(true);
  });

  describe('resize methods', () => {
    // 64 wide × 32 high: red | blue halves.
    let file: string;
    beforeAll(async () => {
      file = await writeImage(join(dir, 'wide.png'), { width: 64, height: 32, halves: [[255, 0, 0], [0, 0, 255]] });
    });

    it('each gives the requested size', async () => {
      for (const method of ['squish', 'crop', 'pad'] as const) {
        expect(await decodeImage(file, spec(24, 20, method))).toHaveLength(24 * 20 * 3);
      }
    });

    it('squish keeps all of the image, stretched: red on the left, blue on the right', async () => {
      const d = await decodeImage(file, spec(32, 32, 'squish'));
      expect(close(px(d, 32, 16, 2), [255, 0, 0], 2)).toBe(true);
      expect(close(px(d, 32, 16, 29), [0, 0, 255], 2)).toBe(true);
    });

    it('crop keeps the centre: the halves meet in the middle, and the edges are cut', async () => {
      const squish = await decodeImage(file, spec(32, 32, 'squish'));
      const crop = await decodeImage(file, spec(32, 32, 'crop'));
      expect(crop).not.toEqual(squish);
      // The centre 32×32 of a 64×32 image: columns 16–47, so red then blue, still split at the middle.
      expect(close(px(crop, 32, 16, 2), [255, 0, 0], 2)).toBe(true);
      expect(close(px(crop, 32, 16, 29), [0, 0, 255], 2)).toBe(true);
    });

    it('pad fits the whole image and pads top and bottom (zeros: black)', async () => {
      const d = await decodeImage(file, spec(32, 32, 'pad', 'zeros'));
      expect(px(d, 32, 2, 16)).toEqual([0, 0, 0]); // padding above
      expect(close(px(d, 32, 16, 2), [255, 0, 0], 2)).toBe(true);
      expect(px(d, 32, 29, 16)).toEqual([0, 0, 0]); // padding below
      const reflect = await decodeImage(file, spec(32, 32, 'pad', 'reflection'));
      expect(close(px(reflect, 32, 2, 2), [255, 0, 0], 2)).toBe(true); // mirrored image, not black
    });
  });

  it('a corrupt file is a BadImageError naming the file and the reason', async () => {
    const file = join(dir, 'corrupt.jpg');
    writeFileSync(file, Buffer.from('this is not a jpeg'));
    const err = await decodeImage(file, spec(8, 8)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadImageError);
    expect((err as BadImageError).message).toMatch(new RegExp(`cannot decode image '${file}': .+`));
  });

  it('a truncated JPEG is a bad image', async () => {
    const good = await writeImage(join(dir, 'whole.jpg'), { width: 64, height: 64, format: 'jpeg' });
    const bytes = (await import('node:fs')).readFileSync(good);
    const file = join(dir, 'truncated.jpg');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expect(decodeImage(file, spec(8, 8))).rejects.toThrow(BadImageError);
  });

  it('an image over the pixel limit is reported as a possible decompression bomb', async () => {
    const file = await writeImage(join(dir, 'big.png'), { width: 200, height: 200, color: orange });
    await expect(decodeImage(file, spec(8, 8), 10_000)).rejects.toThrow(/big\.png.*pixel limit.*decompression bomb/);
  });
});
