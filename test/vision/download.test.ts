import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedFetch } from '../../src/core/download.js';
import { env } from '../../src/core/env.js';
import { pretrainedWeights, weightsLocation } from '../../src/vision/weights.js';
import { serializeSafetensors } from '../../src/vision/safetensors.js';
import { startHub } from '../helpers/hubServer.js';
import { tempDir } from '../helpers/images.js';

const weights = serializeSafetensors({ 'conv1.weight': { shape: [2, 2], values: new Float32Array([1, 2, 3, 4]) } });
const sha = createHash('sha256').update(weights).digest('hex');
let hub: Awaited<ReturnType<typeof startHub>>;
let cache: string;

beforeAll(async () => {
  hub = await startHub({
    '/good.bin': { body: weights },
    '/gone.bin': { status: 404 },
    '/cut.bin': { truncate: weights },
    '/timm/resnet18.tv_in1k/resolve/main/model.safetensors': { body: weights },
  });
  cache = tempDir('fastvision-cache-');
  env.cacheDir = cache;
  env.hubUrl = hub.url;
  env.offline = false;
});
afterAll(() => hub.close());

const leftovers = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.part')) : []);

describe('cachedFetch', () => {
  it('downloads once, checks the sha256, then serves from the cache', async () => {
    const file = join(cache, 'a', 'good.bin');
    const spec = { url: `${hub.url}/good.bin`, file, sha256: sha, bytes: weights.byteLength };
    expect(await cachedFetch(spec, { progress: false })).toBe(file);
    expect(readFileSync(file)).toEqual(Buffer.from(weights));
    const before = hub.requests.length;
    await cachedFetch(spec, { progress: false });
    expect(hub.requests.length).toBe(before);
  });

  it('a 404 names the URL and the status', async () => {
    const file = join(cache, 'b', 'gone.bin');
    await expect(cachedFetch({ url: `${hub.url}/gone.bin`, file }, { progress: false })).rejects.toThrow(`${hub.url}/gone.bin answered 404`);
    expect(existsSync(file)).toBe(false);
  });

  it('a truncated body fails and leaves nothing in the cache', async () => {
    const file = join(cache, 'c', 'cut.bin');
    await expect(cachedFetch({ url: `${hub.url}/cut.bin`, file }, { progress: false })).rejects.toThrow(/downloading .*cut\.bin failed/);
    expect(existsSync(file)).toBe(false);
    expect(leftovers(join(cache, 'c'))).toEqual([]);
  });

  it('a wrong sha256 fails and leaves nothing in the cache', async () => {
    const file = join(cache, 'd', 'good.bin');
    await expect(cachedFetch({ url: `${hub.url}/good.bin`, file, sha256: '0'.repeat(64) }, { progress: false })).rejects.toThrow(/sha256 [0-9a-f]{64}, expected 0000/);
    expect(existsSync(file)).toBe(false);
  });

  it('offline: never asks the network, and says which URL to put at which path', async () => {
    const file = join(cache, 'e', 'good.bin');
    const before = hub.requests.length;
    await expect(cachedFetch({ url: `${hub.url}/good.bin`, file }, { offline: true })).rejects.toThrow(
      `offline (FASTVISION_OFFLINE) and ${file} is not cached. Download ${hub.url}/good.bin and put it at ${file}`,
    );
    expect(hub.requests.length).toBe(before);
  });
});

describe('pretrainedWeights', () => {
  it('fetches from env.hubUrl into env.cacheDir, and re-fetches a truncated cache file', async () => {
    const { url, file } = weightsLocation('resnet18');
    expect(url).toBe(`${hub.url}/timm/resnet18.tv_in1k/resolve/main/model.safetensors`);
    expect(file).toBe(join(cache, 'hub', 'timm', 'resnet18.tv_in1k', 'model.safetensors'));
    const t = await pretrainedWeights('resnet18', { progress: false });
    expect(Array.from(t.get('conv1.weight')!.values)).toEqual([1, 2, 3, 4]);

    writeFileSync(file, weights.subarray(0, weights.byteLength - 4)); // a torn download from an older run
    const before = hub.requests.length;
    const again = await pretrainedWeights('resnet18', { progress: false });
    expect(hub.requests.length).toBe(before + 1);
    expect(Array.from(again.get('conv1.weight')!.values)).toEqual([1, 2, 3, 4]);
  });

  it('FASTVISION_OFFLINE=1 with nothing cached names the URL and the path', async () => {
    env.cacheDir = tempDir('fastvision-empty-cache-');
    env.offline = true;
    try {
      const { url, file } = weightsLocation('resnet34');
      await expect(pretrainedWeights('resnet34')).rejects.toThrow(`Download ${url} and put it at ${file}`);
    } finally {
      env.cacheDir = cache;
      env.offline = false;
    }
  });
});
