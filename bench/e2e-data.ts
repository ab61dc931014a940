import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import seedrandom from 'seedrandom';
import sharp from 'sharp';

/**
 * The end-to-end benchmark's dataset: `n` JPEGs of `size` px in two classes, stripes
 * (at a random angle) or a dot grid, in random colours with pixel noise, and
 * `labels.csv` (fn, label, is_valid) with a fixed 20% validation split that both
 * frameworks read. Made once per (n, size, seed) and reused.
 */
export async function e2eDataset(root: string, n: number, size: number, seed = 42): Promise<string> {
  const dir = join(root, `e2e-${n}-${size}px-seed${seed}`);
  const csv = join(dir, 'labels.csv');
  if (existsSync(csv) && readFileSync(csv, 'utf8').trim().split('\n').length === n + 1) return dir;
  mkdirSync(join(dir, 'images'), { recursive: true });
  const rand = seedrandom(String(seed));
  const rows = ['fn,label,is_valid'];
  const validEvery = 5; // 20%, spread over both classes
  for (let i = 0; i < n; i++) {
    const label = i % 2 ? 'dotted' : 'striped';
    const fg = [140 + rand() * 115, 140 + rand() * 115, 140 + rand() * 115];
    const bg = [rand() * 110, rand() * 110, rand() * 110];
    const period = size / (6 + rand() * 6);
    const angle = rand() * Math.PI;
    const [ox, oy] = [rand() * period, rand() * period];
    const px = Buffer.alloc(size * size * 3);
    for (let r = 0; r < size; r++)
      for (let c = 0; c < size; c++) {
        let on: boolean;
        if (label === 'striped') {
          const t = (c * Math.cos(angle) + r * Math.sin(angle) + ox) / period;
          on = t - Math.floor(t) < 0.5;
        } else {
          const u = (c + ox) / period;
          const v = (r + oy) / period;
          on = Math.hypot(u - Math.round(u), v - Math.round(v)) < 0.25;
        }
        const base = on ? fg : bg;
        for (let k = 0; k < 3; k++) px[(r * size + c) * 3 + k] = Math.max(0, Math.min(255, Math.round(base[k]! + (rand() - 0.5) * 60)));
      }
    const fn = `images/${label}_${String(i).padStart(4, '0')}.jpg`;
    await sharp(px, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(dir, fn));
    rows.push(`${fn},${label},${i % validEvery === validEvery - 1 ? 1 : 0}`);
  }
  writeFileSync(`${csv}.tmp`, `${rows.join('\n')}\n`);
  const { renameSync } = await import('node:fs');
  renameSync(`${csv}.tmp`, csv);
  return dir;
}
