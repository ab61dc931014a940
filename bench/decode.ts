/**
 * `npm run bench:decode`: decode + resize throughput for 1,000 generated 500×500
 * JPEGs to 224 px — sharp at several images in flight, the DataLoader's first epoch
 * (decoding) and second (cache), also with fastai's augmentation — against PIL (what fastai's loader uses) measured
 * in the same run where /usr/bin/python3 has PIL.
 *
 *   npm run bench:decode -- --n 1000 --size 224
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../src/core/tf.js';
import sharp from 'sharp';
import { DataLoaders, ImageCache, Resize, type DataFrameOptions, augTransforms, decodeImage, imagenetStats, initBackend } from '../src/index.js';
import { mapLimit } from '../src/data/concurrency.js';

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    size: { type: 'string', default: '224' },
    bs: { type: 'string', default: '64' },
  },
});
const n = Number(opts.n);
const size = Number(opts.size);
const dir = join(tmpdir(), `fastvision-bench-decode-${n}`);

/** Photo-like 500×500 JPEGs: smooth gradients with noise, each different. */
async function ensureImages(): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const have = new Set(readdirSync(dir));
  const names = Array.from({ length: n }, (_, i) => `cover${String(i).padStart(4, '0')}.jpg`);
  const todo = names.filter((f) => !have.has(f));
  if (todo.length) process.stderr.write(`generating ${todo.length} JPEGs in ${dir}\n`);
  await mapLimit(todo, 4, async (name) => {
    const i = Number(name.slice(5, 9));
    const w = 500;
    const px = Buffer.alloc(w * w * 3);
    let seed = i * 7919 + 1;
    for (let k = 0; k < w * w; k++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) % 40;
      const r = Math.floor(k / w);
      const c = k % w;
      px[k * 3] = (r + i * 3 + noise) & 255;
      px[k * 3 + 1] = (c + i * 5 + noise) & 255;
      px[k * 3 + 2] = ((r + c) / 4 + i + noise) & 255;
    }
    await sharp(px, { raw: { width: w, height: w, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(dir, name));
  });
  return names;
}

interface Result {
  name: string;
  seconds: number;
  images: number;
}

async function time(name: string, images: number, fn: () => Promise<unknown>): Promise<Result> {
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write(`  ${name}: ${(images / seconds).toFixed(0)} img/s\n`);
  return { name, seconds, images };
}

async function main() {
  await initBackend();
  const names = await ensureImages();
  const files = names.map((f) => join(dir, f));
  const spec = { height: size, width: size, method: 'squish', padMode: 'reflection' } as const;
  const results: Result[] = [];
  for (const inFlight of [1, 2, 4, 8]) {
    results.push(await time(`sharp decode+resize, ${inFlight} in flight`, n, () => mapLimit(files, inFlight, (f) => decodeImage(f, spec))));
  }
  const cache = new ImageCache();
  const rows = names.map((f, i) => ({ fn: f, label: i % 2 ? 'metal' : 'rap' }));
  const dls = await DataLoaders.fromDataFrame(rows, { path: dir, size, bs: Number(opts.bs), seed: 42, normalize: imagenetStats, cache, shuffle: false, dropLast: false, validPct: 0.001 });
  const epoch = async () => {
    for await (const b of dls.train) tf.dispose([b.x, b.y]);
  };
  const items = dls.train.n;
  results.push(await time(`DataLoader epoch 1 (decode), bs ${opts.bs}, batches as tensors`, items, epoch));
  const decodes = cache.stats.decodes;
  results.push(await time('DataLoader epoch 2 (from the memory cache)', items, epoch));
  const decodedInEpoch2 = cache.stats.decodes - decodes;

  // The same epochs with fastai's augmentation: batch transforms alone (deterministic items, cached
  // at 224), then the study's random crop (items cropped from cached full-size decodes) with them.
  const variants: [string, DataFrameOptions][] = [
    ['augTransforms()', { size, batchTfms: augTransforms() }],
    ['Resize(size) + augTransforms()', { itemTfms: [Resize(size)], batchTfms: augTransforms() }],
  ];
  for (const [label, extra] of variants) {
    const augCache = new ImageCache();
    const aug = await DataLoaders.fromDataFrame(rows, { path: dir, bs: Number(opts.bs), seed: 42, normalize: imagenetStats, cache: augCache, shuffle: false, dropLast: false, validPct: 0.001, ...extra });
    const augEpoch = async () => {
      for await (const b of aug.train) tf.dispose([b.x, b.y]);
    };
    results.push(await time(`DataLoader epoch 1 (decode), with ${label}`, items, augEpoch));
    results.push(await time(`DataLoader epoch 2 (memory cache), with ${label}`, items, augEpoch));
  }

  const script = fileURLToPath(new URL('./pil_decode.py', import.meta.url));
  const pil = existsSync('/usr/bin/python3') ? spawnSync('/usr/bin/python3', [script, dir, '--size', String(size), '--workers', '2'], { encoding: 'utf8' }) : undefined;
  const pilResults: Result[] = pil?.status === 0 ? pil.stdout.trim().split('\n').map((l) => JSON.parse(l) as Result) : [];

  console.log(`\n### Decode + resize: ${n} JPEGs of 500×500 → ${size}×${size}\n`);
  console.log('| what | img/s | seconds |');
  console.log('|---|---:|---:|');
  for (const r of [...results, ...pilResults]) console.log(`| ${r.name} | ${(r.images / r.seconds).toFixed(0)} | ${r.seconds.toFixed(2)} |`);
  console.log(`\n- images decoded during epoch 2: ${decodedInEpoch2}`);
  if (!pilResults.length) console.log(`- PIL not run (${pil ? pil.stderr.trim().split('\n').pop() : 'no /usr/bin/python3'})`);
  console.log(`- sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, sharp.concurrency() = ${sharp.concurrency()}`);
}

await main();
