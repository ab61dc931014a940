import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { buildMobilenetV2 } from '../../src/vision/archs/mobilenetV2.js';
import { buildResnet, resnetConfigs } from '../../src/vision/archs/resnet.js';
import { env } from '../../src/core/env.js';
import { timmMobilenetV2Keys } from '../../src/vision/keyMaps.js';
import { loadSafetensors, serializeSafetensors } from '../../src/vision/safetensors.js';
import { createVisionModel } from '../../src/vision/visionModel.js';
import { startHub } from '../helpers/hubServer.js';
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
    ['resnet18', () => buildResnet(resnetConfigs.resnet18)],
    ['resnet34', () => buildResnet(resnetConfigs.resnet34)],
    ['mobilenet_v2', () => buildMobilenetV2()],
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

describe('pretrained bodies from the model hub', () => {
  it.each([
    ['resnet18', 'timm/resnet18.tv_in1k', () => buildResnet(resnetConfigs.resnet18), (k: string) => k],
    ['mobilenet_v2', 'timm/mobilenetv2_100.ra_in1k', () => buildMobilenetV2(), timmMobilenetV2Keys],
  ] as const)('%s: createVisionModel loads the hub file (%s naming) into the body', async (name, repo, build, rename) => {
    // Serve the torchvision file under the hub's path, with the keys as that repo names them.
    const tensors = await loadSafetensors(join(dir, `${name}.safetensors`));
    const renamed = Object.fromEntries([...tensors].filter(([k]) => !k.endsWith('num_batches_tracked')).map(([k, t]) => [rename(k), t]));
    const hub = await startHub({ [`/${repo}/resolve/main/model.safetensors`]: { body: serializeSafetensors(renamed) } });
    env.hubUrl = hub.url;
    env.cacheDir = tempDir('fastvision-hub-cache-');
    try {
      const vm = await createVisionModel(name === 'resnet18' ? 'resnet18' : 'mobilenetV2', 2, { progress: false });
      const reference = build();
      loadStateDict(reference, tensors, { source: name });
      const bodyEnd = vm.body.outputs[0]!.sourceLayer.name;
      const referenceBody = tf.model({ inputs: reference.inputs, outputs: reference.getLayer(bodyEnd).output as tf.SymbolicTensor });
      const [a, b] = tf.tidy(() => {
        const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 3);
        return [(vm.body.predict(x) as tf.Tensor).dataSync(), (referenceBody.predict(x) as tf.Tensor).dataSync()];
      });
      expect(Array.from(a!)).toEqual(Array.from(b!));
      vm.model.dispose();
      reference.dispose();
    } finally {
      await hub.close();
    }
  });
});
