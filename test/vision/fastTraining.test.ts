import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { useFastTraining } from '../../src/vision/fastTraining.js';
import { cappedRelu } from '../../src/vision/reluTraining.js';
import { randomArray, relativeError } from '../helpers/random.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

/**
 * Every layer kind the fast training path touches: a stride-2 conv with a bias and a
 * fused ReLU (its input is the image), BatchNorm, ReLU6, a depthwise conv, a 1×1 conv
 * on a zero-padded input, then pooling and a dense classifier.
 */
function net(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv_a' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1e-5, name: 'bn_a' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6, name: 'relu6_a' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw_b' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.zeroPadding2d({ padding: 1, name: 'pad_c' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 5, kernelSize: 1, useBias: false, name: 'conv_c' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1e-5, name: 'bn_c' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6, name: 'relu6_c' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4, name: 'fc' }).apply(x) as tf.SymbolicTensor });
}

/** Loss and the gradient of every trainable weight, for seeded weights and data. */
function gradients(fast: boolean): { loss: number; grads: Float32Array[] } {
  const model = net();
  const weights = model.weights.map((w, k) => {
    const values = randomArray((w.shape as number[]).reduce((a, b) => a * b, 1), `w${k}`);
    // Variances must be positive; scale the rest to keep activations in ReLU6's range.
    return tf.tensor(w.name.includes('moving_variance') ? values.map((v) => 1 + Math.abs(v)) : values.map((v) => 2 * v), w.shape as number[]);
  });
  model.setWeights(weights);
  tf.dispose(weights);
  if (fast) useFastTraining(model);
  const result = tf.tidy(() => {
    const x = tf.tensor4d(randomArray(3 * 12 * 12 * 3, 'x').map((v) => 3 * v), [3, 12, 12, 3]);
    const y = tf.oneHot(tf.tensor1d([0, 2, 3], 'int32'), 4);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
    return { loss: value.dataSync()[0]!, grads: vars.map((v) => grads[v.name]!.dataSync() as Float32Array) };
  });
  model.dispose();
  return result;
}

describe('useFastTraining (BatchNorm, Conv2D through tf.conv2d, fused ReLU6)', () => {
  it('gives the loss and every weight gradient of stock tfjs-layers on the cpu backend (1e-4)', async () => {
    await tf.setBackend('cpu');
    const expected = gradients(false);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const actual = gradients(true);
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(actual.loss - expected.loss) / Math.abs(expected.loss)).toBeLessThanOrEqual(1e-4);
    expect(actual.grads).toHaveLength(expected.grads.length);
    actual.grads.forEach((g, k) => expect(relativeError(g, expected.grads[k]!), `weight ${k}`).toBeLessThanOrEqual(1e-4));
  });

  it('cappedRelu: values and gradient of clipByValue(relu(x), 0, 6), including at 0 and 6 exactly', () => {
    const x = tf.tensor1d([-2, 0, 0.5, 5.99, 6, 6.01, 9]);
    const [y, dx] = tf.tidy(() => {
      const f = (t: tf.Tensor) => tf.sum(tf.mul(cappedRelu(t, 6), tf.range(1, 8)));
      return [cappedRelu(x, 6), tf.grad(f)(x)];
    });
    const [yRef, dxRef] = tf.tidy(() => {
      const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(tf.relu(t), 0, 6), tf.range(1, 8)));
      return [tf.clipByValue(tf.relu(x), 0, 6), tf.grad(f)(x)];
    });
    expect(Array.from(y!.dataSync())).toEqual(Array.from(yRef!.dataSync()));
    expect(Array.from(dx!.dataSync())).toEqual(Array.from(dxRef!.dataSync()));
    tf.dispose([x, y!, dx!, yRef!, dxRef!]);
  });
});
