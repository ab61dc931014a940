import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import seedrandom from 'seedrandom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLoaders, backendInfo, initBackend } from '../../src/index.js';
import { accuracy } from '../../src/learner/metrics.js';
import { visionLearner } from '../../src/learner/visionLearner.js';
import { tempDir } from '../helpers/images.js';

/**
 * Real images, held out: the UCI handwritten digits that Debian's python3-sklearn ships
 * (1,797 scans of digits by 43 writers, 8×8 in 17 grey levels; .ci/run installs the
 * package). The same ResNet-18 from the same random weights learns them on ONNX Runtime
 * (compiled steps) and on tfjs-wasm; the held-out accuracies must agree within a point.
 */
const digitsCsv = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz';
let rows: { fn: string; label: string }[] = [];
let dir = '';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  if (!existsSync(digitsCsv)) throw new Error(`${digitsCsv} is missing: apt-get install python3-sklearn (the real images of this test)`);
  dir = join(tempDir(), 'digits');
  mkdirSync(dir, { recursive: true });
  const lines = gunzipSync(readFileSync(digitsCsv)).toString('utf8').trim().split('\n');
  rows = await Promise.all(
    lines.map(async (line, i) => {
      const v = line.split(',').map(Number);
      const label = String(v[64]);
      const grey = Uint8Array.from(v.slice(0, 64), (x) => Math.round(255 - (x * 255) / 16));
      const fn = `${label}/${i}.png`;
      mkdirSync(join(dir, label), { recursive: true });
      await sharp(grey, { raw: { width: 8, height: 8, channels: 1 } }).resize(32, 32, { kernel: 'nearest' }).toColourspace('srgb').png().toFile(join(dir, fn));
      return { fn, label };
    }),
  );
}, 120_000);

afterAll(() => {
  delete process.env.FASTVISION_TRAINING;
});

describe('held-out accuracy on real images (issue 22)', () => {
  it('ResNet-18 learns the UCI digits to the same held-out accuracy on ONNX Runtime as on wasm (within 1 point)', async () => {
    const results: Record<string, number> = {};
    let initial: import('../../src/core/tf.js').Tensor[] | undefined;
    for (const engine of ['ort', 'tfjs'] as const) {
      process.env.FASTVISION_TRAINING = engine;
      expect(backendInfo().training.engine).toBe(engine);
      const dls = await DataLoaders.fromDataFrame(rows, { path: dir, size: 32, bs: 32, seed: 7, validPct: 0.2 });
      // Seeded initial weights (unseeded, two runs of this test landed 0.3 and 2.2 points apart: from random
      // weights, 4 epochs of two float32 engines diverge as two seeds of one engine do).
      const random = Math.random;
      Math.random = seedrandom('digits');
      // ps: 0: the head's dropout masks are drawn unseeded on both engines; with them, the two accuracies moved
      // 0–0.8 points apart between CI runs of the same code, too close to the bar to say anything about the engines.
      const learn = await visionLearner(dls, 'resnet18', { pretrained: false, ps: 0, metrics: [accuracy], logger: () => {}, progress: false }).finally(() => {
        Math.random = random;
      });
      if (initial) learn.model.setWeights(initial);
      else initial = learn.model.getWeights().map((w) => w.clone());
      await learn.fitOneCycle(4, 3e-3);
      results[engine] = learn.recorder.finalRecord![2]!;
      learn.model.dispose();
    }
    initial!.forEach((t) => t.dispose());
    // Measured with ps: 0 (2026-12-04): 0.9749 on ort, 0.9666 on wasm (3 images of 359), the same on two runs; ~3.6 min.
    console.log('UCI digits, 359 held-out images: accuracy on ort', results.ort, 'on wasm', results.tfjs);
    expect(results.tfjs!).toBeGreaterThan(0.9);
    expect(Math.abs(results.ort! - results.tfjs!)).toBeLessThanOrEqual(0.01);
  }, 600_000);
});
