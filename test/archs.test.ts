import * as tf from '../src/core/tf.js';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '../src/index.js';
import { buildMobilenetV2 } from '../src/vision/archs/mobilenetV2.js';
import { buildResnet, resnetConfigs } from '../src/vision/archs/resnet.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const trainableParams = (m: tf.LayersModel) => m.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);

// torchvision's sum(p.numel() for p in model.parameters()), 1000-class heads.
it.each([
  ['resnet18', () => buildResnet(resnetConfigs.resnet18), 11_689_512],
  ['resnet34', () => buildResnet(resnetConfigs.resnet34), 21_797_672],
  ['resnet50', () => buildResnet(resnetConfigs.resnet50), 25_557_032],
  ['mobilenet_v2', () => buildMobilenetV2(), 3_504_872],
] as const)('%s has torchvision’s parameter count and runs at any image size', (_name, build, expected) => {
  const before = tf.memory().numTensors;
  const model = build();
  expect(trainableParams(model)).toBe(expected);
  for (const size of [64, 96]) {
    const y = tf.tidy(() => model.predict(tf.zeros([1, size, size, 3])) as tf.Tensor);
    expect(y.shape).toEqual([1, 1000]);
    y.dispose();
  }
  model.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
