import sharp from 'sharp';
import { expect } from 'vitest';

/** A picture a person could look at: a PNG that decodes, within a size range, and not blank. */
export async function expectPicture(file: string, size: { minWidth: number; maxWidth: number; minHeight: number; maxHeight: number }): Promise<void> {
  const meta = await sharp(file).metadata();
  expect(meta.format).toBe('png');
  expect(meta.width).toBeGreaterThanOrEqual(size.minWidth);
  expect(meta.width).toBeLessThanOrEqual(size.maxWidth);
  expect(meta.height).toBeGreaterThanOrEqual(size.minHeight);
  expect(meta.height).toBeLessThanOrEqual(size.maxHeight);
  const stats = await sharp(file).stats();
  expect(Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev))).toBeGreaterThan(10);
}
