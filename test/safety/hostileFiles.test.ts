import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { BadImageError, DataLoaders, Learner, decodeImage, env, initBackend, loadLearner, visionLearner } from '../../src/index.js';
import { startHub } from '../helpers/hubServer.js';
import { tempDir, writeImage } from '../helpers/images.js';
import { cacheRandomWeights } from '../helpers/torchWeights.js';
import { writePatterns } from '../helpers/patterns.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

async function exportDir(): Promise<{ dir: string; meta: Record<string, unknown> & { files: { model: string; weights: string } } }> {
  const input = tf.input({ shape: [8, 8, 3] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(flat) as tf.SymbolicTensor });
  const learn = new Learner(undefined, model, { inference: { vocab: ['a', 'b'], multiLabel: false, resize: { height: 8, width: 8, method: 'squish', padMode: 'reflection' } } });
  const dir = join(tempDir(), 'exp');
  await learn.export(dir);
  model.dispose();
  return { dir, meta: JSON.parse(readFileSync(join(dir, 'fastvision.json'), 'utf8')) };
}

/** Runs `fn`, returning how long it took and how much the process's resident memory grew. */
async function bounded<T>(fn: () => Promise<T>): Promise<{ ms: number; rssGrowthMb: number; result: T | Error }> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const result = await fn().catch((e: Error) => e);
  return { ms: performance.now() - t0, rssGrowthMb: (process.memoryUsage().rss - rss0) / 2 ** 20, result };
}

describe('loading a hostile export is bounded', () => {
  it('weights that are a symlink to /dev/zero: a clear error at once, no memory growth', async () => {
    const { dir, meta } = await exportDir();
    rmSync(join(dir, meta.files.weights));
    symlinkSync('/dev/zero', join(dir, meta.files.weights));
    const r = await bounded(() => loadLearner(dir));
    expect(r.result).toBeInstanceOf(Error);
    expect((r.result as Error).message).toMatch(/weights '.*' is a device, not a regular file/);
    expect(r.ms).toBeLessThan(5000);
    expect(r.rssGrowthMb).toBeLessThan(200);
  });

  it('fastvision.json as a FIFO: an error, not a hang', async () => {
    const { dir } = await exportDir();
    rmSync(join(dir, 'fastvision.json'));
    execFileSync('mkfifo', [join(dir, 'fastvision.json')]);
    const r = await bounded(() => loadLearner(dir));
    expect((r.result as Error).message).toMatch(/fastvision\.json' is a pipe \(FIFO\), not a regular file/);
    expect(r.ms).toBeLessThan(5000);
  });

  it('a 3 GB sparse weights file or a folder in its place: refused from its size or kind, before reading', async () => {
    const { dir, meta } = await exportDir();
    const weights = join(dir, meta.files.weights);
    rmSync(weights);
    const fd = openSync(weights, 'w');
    ftruncateSync(fd, 3 * 1024 ** 3);
    closeSync(fd);
    const r = await bounded(() => loadLearner(dir));
    expect((r.result as Error).message).toMatch(/weights '.*' has 3221225472 bytes; \d+ were expected/);
    expect(r.ms).toBeLessThan(5000);
    expect(r.rssGrowthMb).toBeLessThan(200);
    rmSync(weights);
    mkdirSync(weights);
    await expect(loadLearner(dir)).rejects.toThrow(/weights '.*' is a folder/);
  });

  it.each([
    ['a huge resize', (m: Record<string, any>) => ({ ...m, resize: { ...m.resize, height: 10000, width: 10000 } }), /resize\.height: Too big: expected number to be <=2048/],
    ['multiLabel as a string', (m: Record<string, any>) => ({ ...m, multiLabel: 'false' }), /multiLabel: Invalid input: expected boolean, received string/],
    ['a zero std', (m: Record<string, any>) => ({ ...m, normalize: { mean: [0, 0, 0], std: [0, 0, 0] } }), /normalize\.std\.0: Too small/],
    ['a normalisation of the wrong length', (m: Record<string, any>) => ({ ...m, normalize: { mean: [0.5], std: [0.2, 0.2, 0.2] } }), /normalize\.mean/],
    ['strings in the normalisation', (m: Record<string, any>) => ({ ...m, normalize: { mean: ['0.5', 0, 0], std: [0.2, 0.2, 0.2] } }), /normalize\.mean\.0: Invalid input: expected number/],
    ['an object as a class name', (m: Record<string, any>) => ({ ...m, vocab: [{ a: 1 }, 'b'] }), /vocab\.0: Invalid input: expected string/],
    ['duplicate class names', (m: Record<string, any>) => ({ ...m, vocab: ['a', 'a'] }), /vocab: the class names must be unique/],
    ['an unknown resize method', (m: Record<string, any>) => ({ ...m, resize: { ...m.resize, method: 'stretch' } }), /resize\.method: Invalid option/],
    ['formatVersion 99', (m: Record<string, any>) => ({ ...m, formatVersion: 99 }), /formatVersion/],
  ])('metadata with %s is refused, naming the field', async (_, change, why) => {
    const { dir, meta } = await exportDir();
    writeFileSync(join(dir, 'fastvision.json'), JSON.stringify(change(meta)));
    const err = (await loadLearner(dir).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/fastvision\.json' is not valid export metadata/);
    expect(err.message).toMatch(why);
  });

  it('quantized weights are refused, not loaded as garbage', async () => {
    const { dir, meta } = await exportDir();
    for (const name of ['model.json', meta.files.model]) {
      const modelJson = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      modelJson.weightsManifest[0].weights[0].quantization = { dtype: 'uint8', scale: 0.1, min: -1 };
      writeFileSync(join(dir, name), JSON.stringify(modelJson));
    }
    const text = readFileSync(join(dir, meta.files.model), 'utf8');
    writeFileSync(join(dir, 'fastvision.json'), JSON.stringify({ ...meta, bytes: { ...(meta.bytes as object), model: Buffer.byteLength(text) } }));
    await expect(loadLearner(dir)).rejects.toThrow(/weight '.*' is quantized \(.*uint8.*\); fastvision reads float32 weights only/);
  });

  it('NaN weights are refused', async () => {
    const { dir, meta } = await exportDir();
    const w = readFileSync(join(dir, meta.files.weights));
    new Float32Array(w.buffer, w.byteOffset, w.byteLength / 4).fill(Number.NaN);
    writeFileSync(join(dir, meta.files.weights), w);
    await expect(loadLearner(dir)).rejects.toThrow(/holds NaN or infinite values/);
  });

  it('a model.json naming layers tfjs does not know is a clear error', async () => {
    const { dir, meta } = await exportDir();
    const text = readFileSync(join(dir, meta.files.model), 'utf8').replace('"Dense"', '"EvilLayer"');
    writeFileSync(join(dir, meta.files.model), text);
    writeFileSync(join(dir, 'fastvision.json'), JSON.stringify({ ...meta, bytes: { ...(meta.bytes as object), model: Buffer.byteLength(text) } }));
    await expect(loadLearner(dir)).rejects.toThrow(/does not describe a model fastvision can build: .*EvilLayer/);
  });
});

describe('pretrained weights', () => {
  it('are pinned on first use: a mirror later serving other bytes (NaN weights of the same size) is refused, and so are NaN weights', async () => {
    env.cacheDir = tempDir('fastvision-pin-cache-');
    const file = cacheRandomWeights('resnet18');
    const good = readFileSync(file);
    const data = await writePatterns(8);
    const dls = await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 32, bs: 4 });
    const first = await visionLearner(dls, 'resnet18', { progress: false, logger: () => {} });
    first.model.dispose();
    expect(JSON.parse(readFileSync(join(env.cacheDir, 'hub', 'pins.json'), 'utf8'))['timm/resnet18.tv_in1k/model.safetensors']).toMatchObject({ bytes: good.byteLength });
    // Same size, other bytes: the cached file is swapped (or a mirror served it).
    const tampered = Buffer.from(good);
    const headerEnd = 8 + Number(tampered.readBigUInt64LE(0));
    new Float32Array(tampered.buffer, tampered.byteOffset + headerEnd, 16).fill(Number.NaN);
    writeFileSync(file, tampered);
    await expect(visionLearner(dls, 'resnet18', { progress: false })).rejects.toThrow(/are not the ones first used for timm\/resnet18\.tv_in1k\/model\.safetensors/);
    // Trusted anew (pins removed), NaN weights are still refused by the loader itself.
    rmSync(join(env.cacheDir, 'hub', 'pins.json'));
    await expect(visionLearner(dls, 'resnet18', { progress: false })).rejects.toThrow(/NaN or infinite values \(1\): conv1\.weight/);
  });

  it('a folder at the cache path is not "repaired" (deleted): it is an error saying what to do', async () => {
    env.cacheDir = tempDir('fastvision-pin-cache-');
    const hub = await startHub({});
    env.hubUrl = hub.url;
    try {
      const file = join(env.cacheDir, 'hub', 'timm', 'resnet18.tv_in1k', 'model.safetensors');
      mkdirSync(join(file, 'mine'), { recursive: true });
      const data = await writePatterns(8);
      const dls = await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 32, bs: 4 });
      await expect(visionLearner(dls, 'resnet18', { progress: false })).rejects.toThrow(/the cache path '.*model\.safetensors' is not a regular file; move it away/);
      expect(readdirSync(file)).toEqual(['mine']); // untouched
    } finally {
      await hub.close();
    }
  });
});

describe('vector images', () => {
  it('an SVG named .jpg is refused unless asked for', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/><image href="secret.txt"/></svg>`;
    writeFileSync(join(dir, 'cover.jpg'), svg);
    const spec = { height: 8, width: 8, method: 'squish', padMode: 'reflection' } as const;
    const err = await decodeImage(join(dir, 'cover.jpg'), spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadImageError);
    expect((err as Error).message).toMatch(/cover\.jpg': it is an SVG \(or other XML\), a vector format, which fastvision does not decode unless asked \(allowVector: true\)/);
    const pixels = await decodeImage(join(dir, 'cover.jpg'), spec, { allowVector: true });
    expect(pixels[0]).toBeGreaterThan(200); // red
    // A real JPEG is unaffected.
    await writeImage(join(dir, 'real.jpg'), { format: 'jpeg', color: [10, 200, 10] });
    expect((await decodeImage(join(dir, 'real.jpg'), spec))[1]).toBeGreaterThan(150);
  });
});
