import * as tf from '../../src/core/tf.js';
import { describe, expect, it } from 'vitest';
import { DataLoaders, backendInfo } from '../../src/index.js';
import { tempDir, writeImages } from '../helpers/images.js';

// This file never calls initBackend: each test file runs in a process of its own.
describe('a program that never calls initBackend', () => {
  it('gets the best backend (wasm here), not tfjs’s pure-JS default, from the first DataLoaders factory', async () => {
    expect(() => backendInfo()).toThrow(/call `await initBackend\(\)` first/);
    const dir = tempDir('fastvision-auto-');
    const names = await writeImages(dir, 8, [[200, 0, 0], [0, 0, 200]]);
    const dls = await DataLoaders.fromDataFrame(names.map((fn, i) => ({ fn, label: i % 2 ? 'b' : 'a' })), { path: dir, size: 8, bs: 2, validPct: 0.25, seed: 1 });
    expect(backendInfo().name).toBe(process.env.FASTVISION_BACKEND ?? 'wasm');
    expect(tf.getBackend()).toBe(process.env.FASTVISION_BACKEND ?? 'wasm');
    const batch = await dls.valid.oneBatch();
    expect(batch.x.shape).toEqual([2, 8, 8, 3]);
    tf.dispose([batch.x, batch.y]);
  });
});
