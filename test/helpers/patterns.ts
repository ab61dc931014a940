import { join } from 'node:path';
import sharp from 'sharp';
import { tempDir } from './images.js';

/** Striped or dotted 32 px images with random phase and colours: easy to tell apart, never identical. */
export async function writePatterns(n: number, seed = 1): Promise<{ dir: string; rows: { fn: string; label: string }[] }> {
  const dir = tempDir('fastvision-patterns-');
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const rows: { fn: string; label: string }[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2 ? 'dotted' : 'striped';
    const px = Buffer.alloc(32 * 32 * 3);
    const fg = [150 + rand() * 100, 150 + rand() * 100, 150 + rand() * 100];
    const bg = [rand() * 80, rand() * 80, rand() * 80];
    const phase = Math.floor(rand() * 4);
    for (let r = 0; r < 32; r++)
      for (let c = 0; c < 32; c++) {
        const on = label === 'striped' ? (r + phase) % 4 < 2 : (r + phase) % 6 < 2 && (c + phase) % 6 < 2;
        px.set((on ? fg : bg).map((v) => Math.round(v + rand() * 20)), (r * 32 + c) * 3);
      }
    const fn = `${label}${i}.png`;
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(dir, fn));
    rows.push({ fn, label });
  }
  return { dir, rows };
}
