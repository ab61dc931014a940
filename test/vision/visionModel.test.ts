import { createRequire } from 'node:module';
import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { fromLayersModel } from '../../src/vision/body.js';
import { createVisionModel } from '../../src/vision/visionModel.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const names = (layers: tf.layers.Layer[]) => layers.map((l) => l.name);
const count = (layers: tf.layers.Layer[], trainable = true) =>
  layers.flatMap((l) => (trainable ? l.trainableWeights : l.weights)).reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);

describe('createVisionModel', () => {
  it("resnet18: fastai's head and three layer groups, any image size", async () => {
    const before = tf.memory().numTensors;
    const vm = await createVisionModel('resnet18', 3, { pretrained: false });
    expect(vm.layerGroups).toHaveLength(3);
    const [g0, g1, head] = vm.layerGroups.map(names);
    expect(g0![0]).toBe('conv1_pad');
    expect(g0!.at(-1)).toMatch(/^layer2_1_/);
    expect(g1![0]).toMatch(/^layer3_0_/);
    expect(g1!.at(-1)).toBe('layer4_1_relu2');
    expect(head).toEqual([
      'head_pool_max', 'head_pool_avg', 'head_pool',
      'head_bn0', 'head_drop0', 'head_linear0', 'head_relu0',
      'head_bn1', 'head_drop1', 'head_linear1',
    ]);
    // BN(1024) → Linear(1024, 512, no bias) → BN(512) → Linear(512, 3, no bias)
    expect(count(vm.head)).toBe(2 * 1024 + 1024 * 512 + 2 * 512 + 512 * 3);
    expect(count(vm.layerGroups.slice(0, 2).flat())).toBe(11_689_512 - 512 * 1000 - 1000);
    const bn = vm.model.getLayer('head_bn0');
    expect(Array.from(bn.getWeights()[0]!.dataSync().slice(0, 3))).toEqual([1, 1, 1]);
    expect(bn.getWeights()[1]!.dataSync()[0]).toBeCloseTo(1e-3, 9);
    const drops = vm.head.filter((l) => l.getClassName() === 'Dropout').map((l) => (l.getConfig() as { rate: number }).rate);
    expect(drops).toEqual([0.25, 0.5]);
    for (const size of [64, 96]) {
      const y = tf.tidy(() => vm.model.predict(tf.zeros([2, size, size, 3])) as tf.Tensor);
      expect(y.shape).toEqual([2, 3]);
      y.dispose();
    }
    vm.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('mobilenetV2 splits where the 64-channel stage begins; head options change the head', async () => {
    const vm = await createVisionModel('mobilenetV2', 5, { pretrained: false, concatPool: false, linFtrs: [256, 128], ps: 0.2, bnFinal: true });
    expect(vm.layerGroups.map((g) => g[0]!.name)).toEqual(['features_0_0_pad', 'features_7_conv_0_0', 'head_pool']);
    expect(names(vm.head).filter((n) => n.startsWith('head_linear'))).toEqual(['head_linear0', 'head_linear1', 'head_linear2']);
    expect(names(vm.head).at(-1)).toBe('head_bn_final');
    expect(vm.head.filter((l) => l.getClassName() === 'Dropout').map((l) => (l.getConfig() as { rate: number }).rate)).toEqual([0.1, 0.1, 0.2]);
    const y = tf.tidy(() => vm.model.predict(tf.zeros([1, 70, 90, 3])) as tf.Tensor);
    expect(y.shape).toEqual([1, 5]);
    y.dispose();
    vm.model.dispose();
  });

  it('rejects an unknown architecture and a bad class count', async () => {
    await expect(createVisionModel('resnet9000' as 'resnet18', 2, { pretrained: false })).rejects.toThrow(/unknown architecture 'resnet9000'; expected one of resnet18, resnet34/);
    await expect(createVisionModel('resnet18', 0, { pretrained: false })).rejects.toThrow('nOut must be a whole number ≥ 1, got 0');
  });
});

describe('fromLayersModel', () => {
  // A real pretrained CNN that ships inside an npm package: nsfwjs's Keras MobileNetV2
  // (uint8-quantised weights; inputs in [0, 1]). It is not an ImageNet model.
  async function nsfwMobilenet(): Promise<tf.LayersModel> {
    const require = createRequire(import.meta.url);
    const { MobileNetV2Model } = require('nsfwjs/models/mobilenet_v2');
    const { modelTopology, weightsManifest } = (await MobileNetV2Model.modelJson()).default;
    const shard = Buffer.from((await MobileNetV2Model.weightBundles[0]()).default as string, 'base64');
    const weightData = shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength);
    return tf.loadLayersModel(tf.io.fromMemory({ modelTopology, weightSpecs: weightsManifest[0].weights, weightData }));
  }

  it("nsfwjs's MobileNetV2 (fixed at 224 px) runs at 96, 160 and 224 px as a body, with finite features", async () => {
    const keras = await nsfwMobilenet();
    expect(keras.inputs[0]!.shape).toEqual([null, 224, 224, 3]);
    const body = fromLayersModel(keras, { cut: 'out_relu', normalize: { mean: [0, 0, 0], std: [1, 1, 1] }, splitAt: ['block_6_expand'] });
    expect(body.groups.map((g) => g[0]!.name)).toEqual(['Conv1_pad', 'block_6_expand']);
    for (const size of [96, 160, 224]) {
      const f = tf.tidy(() => body.model.predict(tf.randomUniform([1, size, size, 3])) as tf.Tensor);
      expect(f.shape).toEqual([1, size / 32, size / 32, 1280]);
      expect(Array.from(await f.data()).every(Number.isFinite)).toBe(true);
      f.dispose();
    }
    // The default cut stops before the trailing pooling / flatten / dense layers.
    expect(fromLayersModel(keras, { normalize: { mean: [0, 0, 0], std: [1, 1, 1] } }).model.outputs[0]!.shape).toEqual([null, null, null, 1280]);
    // And it becomes a classifier like any architecture.
    const vm = await createVisionModel(body, 2);
    const y = tf.tidy(() => vm.model.predict(tf.randomUniform([2, 128, 128, 3])) as tf.Tensor);
    expect(y.shape).toEqual([2, 2]);
    y.dispose();
    expect(() => fromLayersModel(keras, { cut: 'nope', normalize: { mean: [0, 0, 0], std: [1, 1, 1] } })).toThrow(/cut 'nope' is not a layer/);
  });
});
