import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { mobilenetV2 } from '../../src/vision/archs/mobilenetV2.js';
import { resnet, resnetConfigs } from '../../src/vision/archs/resnet.js';
import { loadSafetensors } from '../../src/vision/safetensors.js';
import { loadStateDict } from '../../src/vision/torchWeights.js';
import { tempDir } from '../helpers/images.js';

// PyTorch is Debian's python3-torch for /usr/bin/python3 (.ci/run installs it).
const python = '/usr/bin/python3';
const size = 67; // odd, so every stride-2 layer meets PyTorch's padding rules
const dir = tempDir('fastvision-parity-');

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  const run = spawnSync(python, [join(import.meta.dirname, 'torch_parity.py'), dir, String(size)], { encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`the PyTorch side of the parity test failed (apt-get install python3-torch python3-torchvision):\n${run.stderr}`);
  }
}, 300_000);

describe('torchvision weights give torchvision’s numbers', () => {
  it.each([
    ['resnet18', () => resnet(resnetConfigs.resnet18)],
    ['resnet34', () => resnet(resnetConfigs.resnet34)],
    ['mobilenet_v2', () => mobilenetV2()],
  ] as const)('%s: eval-mode logits match PyTorch to 1e-4', async (name, build) => {
    const model = build();
    loadStateDict(model, await loadSafetensors(join(dir, `${name}.safetensors`)), { source: `${name}.safetensors` });
    const io = await loadSafetensors(join(dir, `${name}.io.safetensors`));
    const input = io.get('input')!;
    const expected = io.get('logits')!.values;
    const logits = tf.tidy(() => {
      const nhwc = tf.transpose(tf.tensor(input.values, input.shape), [0, 2, 3, 1]);
      return (model.predict(nhwc) as tf.Tensor).dataSync();
    });
    const scale = Math.max(1, ...Array.from(expected, Math.abs));
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - expected[i]!));
    expect(worst / scale).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });
});
