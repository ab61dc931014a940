import { createRequire } from 'node:module';
import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { fromLayersModel } from '../../src/vision/body.js';
import { FusedInference } from '../../src/engine/tfjs/fusedInference.js';
import { createVisionModel } from '../../src/vision/visionModel.js';
import { randomArray, relativeError } from '../helpers/random.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

/** Random running statistics and affine weights in every BatchNorm, so folding them matters. */
function randomizeBatchNorm(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const ws = layer.getWeights();
    const fresh = ws.map((w, k) => {
      const r = randomArray(w.size, `${layer.name} ${k}`);
      // gamma, beta, moving mean, moving variance (> 0)
      return tf.tensor(k === 3 ? r.map((v) => 0.5 + Math.abs(v)) : r, w.shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

function compare(model: tf.LayersModel, size: number): { error: number; fused: number } {
  const runner = new FusedInference(model);
  const x = tf.tensor4d(randomArray(2 * size * size * 3, `x ${model.name}`), [2, size, size, 3]);
  const expected = model.predict(x) as tf.Tensor;
  const actual = runner.predict(x);
  const error = relativeError(actual.dataSync(), expected.dataSync());
  tf.dispose([x, expected, actual]);
  const fused = runner.fusedCount;
  runner.dispose();
  return { error, fused };
}

describe('FusedInference', () => {
  it('resnet18 and mobilenetV2 classifiers: the same outputs as model.predict (1e-4), every conv fused', async () => {
    for (const [arch, convs] of [['resnet18', 20], ['mobilenetV2', 52]] as const) {
      const { model } = await createVisionModel(arch, 3, { pretrained: false });
      randomizeBatchNorm(model);
      const before = tf.memory().numTensors;
      const { error, fused } = compare(model, 40);
      expect(error, arch).toBeLessThanOrEqual(1e-4);
      expect(fused, arch).toBe(convs);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    }
  });

  it('folds again after the weights change, and only then', async () => {
    const { model } = await createVisionModel('resnet18', 2, { pretrained: false });
    randomizeBatchNorm(model);
    const runner = new FusedInference(model);
    const x = tf.randomUniform([1, 32, 32, 3]);
    const run = () => {
      const y = runner.predict(x);
      const v = y.dataSync().slice();
      y.dispose();
      return v;
    };
    const first = run();
    const held = tf.memory().numTensors;
    expect(run()).toEqual(first);
    expect(tf.memory().numTensors).toBe(held); // nothing folded twice
    const bn = model.getLayer('bn1');
    const [gamma, ...rest] = bn.getWeights();
    const doubled = tf.mul(gamma!, 2);
    bn.setWeights([doubled, ...rest]);
    const expected = model.predict(x) as tf.Tensor;
    expect(relativeError(run(), expected.dataSync())).toBeLessThanOrEqual(1e-4);
    expect(relativeError(run(), first)).toBeGreaterThan(1e-3);
    tf.dispose([x, doubled, expected]);
    runner.dispose();
    model.dispose();
  });

  it("a Keras model's 'same'-padded convs, depthwise convs and ReLU6 (nsfwjs's MobileNetV2 body)", async () => {
    const require = createRequire(import.meta.url);
    const { MobileNetV2Model } = require('nsfwjs/models/mobilenet_v2');
    const { modelTopology, weightsManifest } = (await MobileNetV2Model.modelJson()).default;
    const shard = Buffer.from((await MobileNetV2Model.weightBundles[0]()).default as string, 'base64');
    const weightData = shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength);
    const keras = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology, weightSpecs: weightsManifest[0].weights, weightData }));
    const body = fromLayersModel(keras, { cut: 'out_relu', normalize: { mean: [0, 0, 0], std: [1, 1, 1] } });
    const { error, fused } = compare(body.model, 64);
    expect(error).toBeLessThanOrEqual(1e-4);
    expect(fused).toBe(52);
    keras.dispose();
  });
});
