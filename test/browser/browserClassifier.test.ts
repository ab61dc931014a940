import { copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/core/tf.js';
import { DataLoaders, Resize, augTransforms, initBackend, loadLearner, servePage, visionLearner } from '../../src/index.js';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';

/**
 * The deploy page (examples/browser-classifier, served by `fastvision serve`) in Debian's
 * Chromium, headless: it loads a resnet18 and a mobilenetV2 export made here, classifies
 * the same image files through a file input, and its probabilities must be the ones
 * `loadLearner(dir).predict(file)` gives in Node. CI installs chromium; when it cannot
 * start, this fails saying so.
 */
const executablePath = process.env.FASTVISION_CHROMIUM ?? '/usr/bin/chromium';
// What the machine's network allows (no background connections) and SwiftShader for WebGL.
const args = [
  '--no-sandbox', '--disable-gpu-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
];
/** Largest |browser − Node| probability allowed, per backend (float32 everywhere; webgl may compute in lower precision). */
const tolerance: Record<string, number> = { wasm: 1e-4, cpu: 1e-4, webgl: 5e-3 };
const screenshotFile = join(tmpdir(), 'fastvision-browser-classifier.png');

interface PageResult { name: string; scores?: { label: string; prob: number }[]; error?: string }

describe('the browser classifier page in Chromium', () => {
  let browser: Browser;
  let images: string[];
  const models: Record<string, string> = {};
  const ran: Record<string, string> = {};

  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    try {
      browser = await chromium.launch({ executablePath, args, headless: true });
    } catch (err) {
      throw new Error(`Chromium (${executablePath}) does not start, so the browser page cannot be tested: ${(err as Error).message.split('\n')[0]}. Install Debian's chromium (apt-get install chromium), or set FASTVISION_CHROMIUM.`);
    }
    const { dir, rows } = await writePatterns(32, 7);
    const dls = (opts: object) => DataLoaders.fromDataFrame(rows, { path: dir, validPct: 0.25, seed: 2, bs: 8, ...opts });
    // resnet18 with the `size` option (a centred crop); mobilenetV2 presized (item Resize, then a batch resize on the backend).
    const recipes = {
      resnet18: { arch: 'resnet18' as const, dls: await dls({ size: 40 }) },
      mobilenetV2: { arch: 'mobilenetV2' as const, dls: await dls({ itemTfms: [Resize(48)], batchTfms: augTransforms({ size: 40 }) }) },
    };
    for (const [name, r] of Object.entries(recipes)) {
      const learn = await visionLearner(r.dls, r.arch, { pretrained: false, logger: () => {} });
      await learn.fit(1, 1e-3);
      models[name] = await learn.export(join(tempDir('fastvision-browser-'), name));
    }
    // Images the models never saw, larger and not square, so every resize step does real work.
    const out = tempDir('fastvision-browser-images-');
    images = [];
    for (const [i, row] of rows.slice(0, 3).entries()) {
      const file = join(out, `${i}-${row.label}.png`);
      await sharp(join(dir, row.fn)).resize(71 + 10 * i, 53, { kernel: 'nearest' }).modulate({ hue: 40 * i }).png().toFile(file);
      images.push(file);
    }
    const jpeg = join(out, '3-photo.jpg');
    await sharp(join(dir, rows[3]!.fn)).resize(64, 90).jpeg({ quality: 90 }).toFile(jpeg);
    images.push(jpeg);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    console.log(`backends the page ran on: ${JSON.stringify(ran)}`);
  });

  for (const name of ['resnet18', 'mobilenetV2']) {
    it(`${name}: the page's probabilities equal loadLearner().predict's, on every backend the browser starts`, async () => {
      const learn = await loadLearner(models[name]!);
      const expected = await Promise.all(images.map((f) => learn.predict(f)));
      const vocab = learn.inferenceConfig.vocab;
      // Not a trivial comparison: the classes' probabilities differ from image to image.
      expect(new Set(expected.map((p) => p.probs[0]!.toFixed(3))).size).toBeGreaterThan(1);
      const server = await servePage(models[name]!, { port: 0 });
      const before = tf.memory().numTensors;
      try {
        for (const backend of ['wasm', 'cpu', 'webgl']) {
          const page = await browser.newPage();
          const logs: string[] = [];
          page.on('console', (m) => logs.push(m.text()));
          page.on('pageerror', (e) => logs.push(e.message));
          try {
            await page.goto(`${server.url}?backend=${backend}`);
            await page.waitForFunction(() => { const s = (globalThis as never as { fastvisionPage?: { ready: boolean; error: string | null } }).fastvisionPage; return s && (s.ready || s.error); }, null, { timeout: 120_000 });
            const state = await page.evaluate(() => (globalThis as never as { fastvisionPage: { ready: boolean; error: string | null; backend: string } }).fastvisionPage);
            if (!state.ready) {
              // WebGL depends on the machine's GPU stack (SwiftShader here); wasm and cpu must start.
              expect(backend, `the page did not start on ${backend}: ${state.error}\n${logs.join('\n')}`).toBe('webgl');
              ran[`${name}/${backend}`] = `did not start: ${state.error}`;
              continue;
            }
            expect(state.backend).toBe(backend);
            await page.setInputFiles('#files', images);
            await page.waitForFunction((n) => (globalThis as never as { fastvisionPage: { results: unknown[] } }).fastvisionPage.results.length === n, images.length, { timeout: 120_000 });
            const results = await page.evaluate(() => (globalThis as never as { fastvisionPage: { results: PageResult[] } }).fastvisionPage.results);
            let worst = 0;
            results.forEach((r, i) => {
              expect(r.error, `${r.name}: ${r.error}`).toBeUndefined();
              const got = Object.fromEntries(r.scores!.map((s) => [s.label, s.prob]));
              vocab.forEach((label, c) => (worst = Math.max(worst, Math.abs(got[label]! - expected[i]!.probs[c]!))));
              expect(r.scores![0]!.label).toBe(expected[i]!.label);
            });
            ran[`${name}/${backend}`] = `max |Δp| ${worst.toExponential(2)}`;
            expect(worst, `${name} on ${backend}`).toBeLessThan(tolerance[backend]!);
            if (name === 'resnet18' && backend === 'wasm') {
              const shot = join(tempDir('fastvision-screenshot-'), 'page.png');
              await page.screenshot({ path: shot, fullPage: true });
              copyFileSync(shot, screenshotFile);
              console.log(`screenshot of the page after a prediction: ${screenshotFile}`);
            }
          } finally {
            await page.close();
          }
        }
      } finally {
        await server.close();
      }
      expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
      learn.model.dispose();
    }, 600_000);
  }
});
