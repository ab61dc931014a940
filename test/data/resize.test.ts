import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/data/image.js';
import { resampleBilinear } from '../../src/data/resample.js';
import type { ResizeSpec } from '../../src/data/resize.js';
import { tempDir } from '../helpers/images.js';

// PIL and torchvision are Debian's, for /usr/bin/python3 (.ci/run installs them).
const python = '/usr/bin/python3';
const dir = tempDir('fastvision-resize-');

interface Case {
  from: [number, number];
  to: [number, number];
  method: ResizeSpec['method'];
  padMode?: ResizeSpec['padMode'];
  format?: 'jpg';
}

// [width, height]. The issue's three ratios, each way of fitting, shrinking and enlarging.
const cases: Case[] = [
  { from: [500, 500], to: [224, 224], method: 'squish' },
  { from: [320, 320], to: [224, 224], method: 'squish' },
  { from: [28, 28], to: [32, 32], method: 'squish' },
  { from: [500, 375], to: [224, 224], method: 'crop' },
  { from: [320, 480], to: [224, 224], method: 'crop' },
  { from: [28, 21], to: [32, 32], method: 'crop' },
  { from: [375, 500], to: [224, 160], method: 'squish' },
  { from: [500, 375], to: [224, 224], method: 'pad', padMode: 'reflection' },
  { from: [21, 28], to: [32, 32], method: 'pad', padMode: 'reflection' },
  { from: [500, 375], to: [224, 224], method: 'pad', padMode: 'zeros' },
  { from: [40, 10], to: [48, 48], method: 'pad', padMode: 'border' },
  { from: [7, 40], to: [60, 60], method: 'pad', padMode: 'reflection' }, // padding wider than the image: reflected again
  { from: [500, 500], to: [224, 224], method: 'squish', format: 'jpg' },
];

let files: string[] = [];

beforeAll(() => {
  const run = spawnSync(python, [join(import.meta.dirname, 'pil_resize.py'), dir, JSON.stringify(cases)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the PIL side of the resize test failed (apt-get install python3-torchvision python3-pil):\n${run.stderr}`);
  files = run.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { file: string }).file);
}, 120_000);

function difference(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

describe('Resize gives the pixels fastai and torchvision get from PIL', () => {
  it.each(cases.map((c, i) => [`${c.method}${c.padMode ? ` (${c.padMode})` : ''} ${c.from.join('×')} → ${c.to.join('×')}${c.format ? ` from ${c.format}` : ''}`, i] as const))(
    '%s',
    async (_, i) => {
      const c = cases[i]!;
      const spec: ResizeSpec = { width: c.to[0], height: c.to[1], method: c.method, padMode: c.padMode ?? 'reflection' };
      const ours = await decodeImage(files[i]!, spec);
      const pil = new Uint8Array(readFileSync(join(dir, `case${i}.raw`)));
      expect(ours.length).toBe(pil.length);
      const { mean, max } = difference(ours, pil);
      if (c.format === 'jpg') {
        // Two JPEG decoders (libjpeg-turbo in PIL, mozjpeg in sharp) may round an IDCT differently.
        expect(mean).toBeLessThanOrEqual(1);
        expect(max).toBeLessThanOrEqual(8);
      } else {
        // Decoded PNGs are the same bytes, and the resampling is PIL's own arithmetic: bit for bit.
        expect({ mean, max }).toEqual({ mean: 0, max: 0 });
      }
    },
  );
});

describe('resampleBilinear', () => {
  const ramp = (w: number, h: number, c: number) => ({ data: Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37) & 255), width: w, height: h, channels: c });

  it('keeps 1 to 4 channels and crops before resizing', () => {
    for (const c of [1, 2, 3, 4]) {
      const out = resampleBilinear(ramp(50, 30, c), 17, 11);
      expect([out.width, out.height, out.channels, out.data.length]).toEqual([17, 11, c, 17 * 11 * c]);
    }
    // A box the output's size is a plain crop.
    const src = ramp(10, 8, 3);
    const crop = resampleBilinear(src, 4, 3, { left: 2, top: 1, width: 4, height: 3 });
    expect(Array.from(crop.data.subarray(0, 3))).toEqual(Array.from(src.data.subarray((1 * 10 + 2) * 3, (1 * 10 + 2) * 3 + 3)));
  });

  it('is a constant on a constant image, at any scale', () => {
    const flat = { data: new Uint8Array(37 * 23 * 3).fill(201), width: 37, height: 23, channels: 3 };
    for (const [w, h] of [[5, 3], [37, 80], [100, 7]] as const) expect(new Set(resampleBilinear(flat, w, h).data)).toEqual(new Set([201]));
  });

  it('refuses sizes, channels and boxes it cannot honour, naming them', () => {
    const src = ramp(10, 8, 3);
    expect(() => resampleBilinear(src, 0, 5)).toThrow(/0×5/);
    expect(() => resampleBilinear(src, 4, 4, { left: 8, top: 0, width: 4, height: 4 })).toThrow(/crop box .* not a region of the 10×8 image/);
    expect(() => resampleBilinear({ ...src, channels: 5 }, 4, 4)).toThrow(/5-channel/);
    expect(() => resampleBilinear({ ...src, width: 11 }, 4, 4)).toThrow(/240 bytes are not 11×8×3/);
  });
});

describe('the resampler’s WebAssembly', () => {
  it('is what src/data/wasm/resample.wat compiles to (run `node src/data/wasm/compile.mjs` after editing it)', async () => {
    // @ts-expect-error: a plain .mjs script without types
    const { compileResampleWat, resampleWasmSource } = await import('../../src/data/wasm/compile.mjs');
    const committed = readFileSync(join(import.meta.dirname, '../../src/data/wasm/resampleWasm.ts'), 'utf8');
    expect(committed).toBe(resampleWasmSource(await compileResampleWat()));
  });
});
