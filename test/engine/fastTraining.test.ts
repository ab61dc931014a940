import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { useFastTraining } from '../../src/engine/tfjs/fastTraining.js';
import { reluFromOutput } from '../../src/engine/tfjs/reluTraining.js';
import { randomArray, relativeError } from '../helpers/random.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

/**
 * Every layer kind the fast training path touches: a stride-2 conv with a bias and a
 * fused ReLU (its input is the image), BatchNorm, ReLU6, a depthwise conv, an
 * asymmetrically zero-padded stride-2 depthwise conv with a bias, ReLU, a 1×1 conv on
 * a zero-padded input, then pooling and a dense classifier.
 */
function net(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv_a' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1e-5, name: 'bn_a' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6, name: 'relu6_a' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw_b' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]], name: 'pad_d' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', useBias: true, name: 'dw_d' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'relu_d' }).apply(x) as tf.SymbolicTensor;
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
  if (fast) {
    useFastTraining(model);
    // The padding layers before 'valid' convolutions pass their input through in training: the convolutions pad.
    for (const name of ['pad_c', 'pad_d']) {
      const probe = tf.zeros([1, 3, 3, 6]);
      const out = model.getLayer(name).apply(probe, { training: true }) as tf.Tensor;
      expect(out.shape, name).toEqual([1, 3, 3, 6]);
      tf.dispose([probe, out]);
    }
  }
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

describe('useFastTraining (BatchNorm, convolutions with folded padding, ReLUs)', () => {
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

  it('reluFromOutput: the values of relu and relu6, and PyTorch’s gradient (0 at x = 0 and at x = 6)', () => {
    const x = tf.tensor1d([-2, 0, 0.5, 5.99, 6, 6.01, 9]);
    const upstream = tf.range(1, 8);
    for (const max of [6, Infinity]) {
      const [y, dx] = tf.tidy(() => [reluFromOutput(x, max), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reluFromOutput(t, max), upstream)))(x)]);
      const xs = Array.from(x.dataSync());
      expect(Array.from(y!.dataSync())).toEqual(xs.map((v) => Math.fround(Math.min(Math.max(v, 0), max))));
      expect(Array.from(dx!.dataSync())).toEqual(xs.map((v, i) => (v > 0 && v < max ? i + 1 : 0)));
      tf.dispose([y!, dx!]);
    }
    tf.dispose([x, upstream]);
  });
});
