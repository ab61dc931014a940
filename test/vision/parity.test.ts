import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLoaders, initBackend, visionLearner, type ArchName } from '../../src/index.js';
import { env } from '../../src/core/env.js';
import { pretrainedConfigs } from '../../src/vision/pretrained.js';
import { loadSafetensors, type TensorData } from '../../src/vision/safetensors.js';
import { loadStateDict } from '../../src/vision/torchWeights.js';
import { startHub } from '../helpers/hubServer.js';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';

// PyTorch is Debian's python3-torch for /usr/bin/python3 (.ci/run installs it). The
// files it writes are the hub's: whole state dicts with every buffer, int64
// `num_batches_tracked` included, under the hub repository's key names.
const python = '/usr/bin/python3';
const size = 67; // odd, so every stride-2 layer meets PyTorch's padding rules
const dir = tempDir('fastvision-parity-');
const archs: [string, ArchName][] = [
  ['resnet18', 'resnet18'],
  ['resnet34', 'resnet34'],
  ['resnet50', 'resnet50'],
  ['mobilenet_v2', 'mobilenetV2'],
];

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  const run = spawnSync(python, [join(import.meta.dirname, 'torch_parity.py'), dir, String(size)], { encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`the PyTorch side of the parity test failed (apt-get install python3-torch python3-torchvision):\n${run.stderr}`);
  }
}, 300_000);

/** Worst absolute difference relative to the reference's largest magnitude (at least 1). */
function relativeError(actual: ArrayLike<number>, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst / scale;
}

/** The PyTorch side's input (NCHW → NHWC), logits and body features (NCHW → NHWC). */
async function io(stem: string): Promise<{ input: tf.Tensor4D; logits: Float32Array; features: Float32Array }> {
  const t = await loadSafetensors(join(dir, `${stem}.io.safetensors`));
  const nhwc = (d: TensorData) => tf.tidy(() => tf.transpose(tf.tensor(d.values, d.shape), [0, 2, 3, 1]));
  const features = nhwc(t.get('features')!);
  const out = { input: nhwc(t.get('input')!) as tf.Tensor4D, logits: t.get('logits')!.values, features: features.dataSync() as Float32Array };
  features.dispose();
  return out;
}

describe('hub files as PyTorch writes them give torchvision’s numbers', () => {
  it.each([...archs, ['resnet18.dtypes', 'resnet18'] as [string, ArchName]])('%s: eval-mode logits match PyTorch to 1e-4', async (stem, arch) => {
    const config = pretrainedConfigs[arch];
    const model = config.build();
    const tensors = await loadSafetensors(join(dir, `${stem}.safetensors`));
    expect([...tensors.values()].some((t) => t.dtype === 'I64')).toBe(true); // the buffers are there, as int64
    loadStateDict(model, tensors, { source: `${stem}.safetensors`, ...(config.keyMap ? { keyMap: config.keyMap } : {}) });
    const { input, logits: expected } = await io(stem);
    const logits = tf.tidy(() => (model.predict(input) as tf.Tensor).dataSync());
    expect(relativeError(logits, expected)).toBeLessThanOrEqual(1e-4);
    if (stem.endsWith('dtypes')) {
      // F64 and U8 entries among the used tensors were converted, not refused.
      expect([tensors.get('fc.weight')!.dtype, tensors.get('bn1.running_var')!.dtype]).toEqual(['F64', 'U8']);
    }
    model.dispose();
    input.dispose();
  });
});

describe('visionLearner(..., { pretrained: true }) loads them from a 127.0.0.1 hub', () => {
  const routes: Record<string, { body: Uint8Array }> = {};
  let hub: Awaited<ReturnType<typeof startHub>>;
  let data: Awaited<ReturnType<typeof writePatterns>>;
  const saved = { hubUrl: env.hubUrl, cacheDir: env.cacheDir };

  beforeAll(async () => {
    hub = await startHub(routes);
    env.hubUrl = hub.url;
    data = await writePatterns(8);
  });
  afterAll(async () => {
    Object.assign(env, saved);
    await hub.close();
  });

  /** Serves `stem`'s file where `arch`'s weights live on the hub, into a fresh cache. */
  function serve(stem: string, arch: ArchName): void {
    const c = pretrainedConfigs[arch];
    routes[`/${c.hubRepo}/resolve/main/${c.hubFile}`] = { body: readFileSync(join(dir, `${stem}.safetensors`)) };
    env.cacheDir = tempDir('fastvision-hub-cache-');
  }

  it.each([...archs, ['resnet18.dtypes', 'resnet18'] as [string, ArchName]])('%s: the body’s features match PyTorch’s to 1e-4', async (stem, arch) => {
    serve(stem, arch);
    const dls = await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 32, bs: 4, seed: 1 });
    const learn = await visionLearner(dls, arch, { pretrained: true, progress: false });
    const bodyEnd = learn.layerGroups.at(-2)!.at(-1)!;
    const body = tf.model({ inputs: learn.model.inputs, outputs: bodyEnd.output as tf.SymbolicTensor });
    const { input, features: expected } = await io(stem);
    const features = tf.tidy(() => (body.predict(input) as tf.Tensor).dataSync());
    expect(relativeError(features, expected)).toBeLessThanOrEqual(1e-4);
    learn.model.dispose();
    input.dispose();
    learn.opt.dispose();
  });

  it('a tensor in a dtype safetensors does not define is refused, naming the tensor and the dtype', async () => {
    serve('resnet18.c64', 'resnet18');
    const dls = await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 32, bs: 4, seed: 1 });
    const before = tf.memory().numTensors;
    await expect(visionLearner(dls, 'resnet18', { pretrained: true, progress: false })).rejects.toThrow(
      /is not a valid safetensors file: tensor 'fc\.bias' has dtype "C64", which the format does not define/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
