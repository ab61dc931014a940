import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { genreColumns } from './genres.js';

/**
 * SYNTHETIC stand-ins for album covers, made at run time so the recipe can be shown
 * without network or copyrighted images: "metal" covers are dark with jagged shards,
 * "rap" covers bright with bold round shapes. They are not real covers.
 */
export async function writeSyntheticCovers(dir: string, n: number, size = 160, seed = 42): Promise<string> {
  await mkdir(join(dir, 'images'), { recursive: true });
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const header = ['artist-credit-phrase', 'title', 'id', ...genreColumns, 'sum_genres', 'image_name'];
  const lines = [header.join(',')];
  for (let i = 0; i < n; i++) {
    const metal = i % 2 === 0;
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const svg = metal ? metalCover(size, rand) : rapCover(size, rand);
    await sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toFile(join(dir, 'images', `${id}.jpg`));
    const genres = genreColumns.map((c) => (c === 'metal' ? +metal : c === 'rap' ? +!metal : 0));
    lines.push([`Synthetic Artist ${i}`, `Synthetic cover ${i}`, id, ...genres, 1, `images/${id}.jpg`].join(','));
  }
  await writeFile(join(dir, 'albums.csv'), `${lines.join('\n')}\n`);
  return dir;
}

function metalCover(size: number, rand: () => number): string {
  const shards = Array.from({ length: 6 + Math.floor(rand() * 6) }, () => {
    const pts = Array.from({ length: 3 }, () => `${Math.floor(rand() * size)},${Math.floor(rand() * size)}`).join(' ');
    const shade = 60 + Math.floor(rand() * 120);
    return `<polygon points="${pts}" fill="rgb(${shade},${Math.floor(shade / 4)},${Math.floor(shade / 5)})" opacity="0.8"/>`;
  });
  const bg = Math.floor(rand() * 30);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="rgb(${bg},${bg},${bg})"/>${shards.join('')}</svg>`;
}

function rapCover(size: number, rand: () => number): string {
  const hue = () => `hsl(${Math.floor(rand() * 360)},85%,${55 + Math.floor(rand() * 20)}%)`;
  const blobs = Array.from({ length: 3 + Math.floor(rand() * 4) }, () => `<circle cx="${Math.floor(rand() * size)}" cy="${Math.floor(rand() * size)}" r="${10 + Math.floor(rand() * size * 0.3)}" fill="${hue()}"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="${hue()}"/>${blobs.join('')}</svg>`;
}
