import * as tf from '../../src/core/tf.js';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { randomArray, relativeError } from '../helpers/random.js';

/** conv-BN-ReLU, a residual block, a stride-2 downsample with a 1×1 shortcut, a depthwise conv, pool, dense. */
function tinyResNet(classes: number): tf.LayersModel {
  const convBn = (x: tf.SymbolicTensor, filters: number, kernel: number, strides = 1, relu = true) => {
    let y = tf.layers
      .conv2d({ filters, kernelSize: kernel, strides, padding: 'same', useBias: false, kernelInitializer: 'heNormal' })
      .apply(x) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
    return relu ? (tf.layers.reLU().apply(y) as tf.SymbolicTensor) : y;
  };
  const input = tf.input({ shape: [16, 16, 3] });
  const stem = convBn(input, 8, 3);
  const block = convBn(convBn(stem, 8, 3), 8, 3, 1, false);
  const res1 = tf.layers.reLU().apply(tf.layers.add().apply([stem, block])) as tf.SymbolicTensor;
  const down = convBn(convBn(res1, 16, 3, 2), 16, 3, 1, false);
  const shortcut = convBn(res1, 16, 1, 2, false);
  const res2 = tf.layers.reLU().apply(tf.layers.add().apply([down, shortcut])) as tf.SymbolicTensor;
  const dw = tf.layers
    .depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false })
    .apply(res2) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(dw) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: classes }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits });
}

/** He-uniform kernels from a fixed seed, BatchNorm at identity: every run starts from the same weights. */
function seedWeights(model: tf.LayersModel, seed: string): void {
  const values = model.weights.map((w, i) => {
    const shape = w.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    if (w.name.includes('kernel')) {
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const limit = Math.sqrt(6 / fanIn);
      return tf.tensor(randomArray(size, `${seed} ${i}`).map((v) => v * limit), shape);
    }
    return w.name.includes('gamma') || w.name.includes('variance') ? tf.ones(shape) : tf.zeros(shape);
  });
  model.setWeights(values);
  tf.dispose(values);
}

/** A problem a net can learn: the class is which quadrant is bright, under noise. */
function quadrantProblem(n: number, classes: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const noise = randomArray(n * 16 * 16 * 3, 'quadrant noise');
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % classes;
    labels.push(label);
    const [r0, c0] = [Math.floor(label / 2) * 8, (label % 2) * 8];
    for (let r = r0; r < r0 + 8; r++)
      for (let c = c0; c < c0 + 8; c++) for (let ch = 0; ch < 3; ch++) noise[((i * 16 + r) * 16 + c) * 3 + ch]! += 1.5;
  }
  return {
    x: tf.tensor4d(noise, [n, 16, 16, 3]),
    y: tf.oneHot(tf.tensor1d(labels, 'int32'), classes) as tf.Tensor2D,
  };
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

/** Runs `steps` optimizer steps on the current backend; returns the loss before each step. */
function train(model: tf.LayersModel, optimizer: tf.Optimizer, steps: number, onStep?: (step: number) => void): number[] {
  const { x, y } = quadrantProblem(32, classes);
  const losses: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const loss = optimizer.minimize(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    }, true) as tf.Scalar;
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
    onStep?.(step);
  }
  x.dispose();
  y.dispose();
  return losses;
}

const classes = 4;

it('a small ResNet-style net trains on wasm: loss halves in 30 steps, no tensor leaks', () => {
  expect(tf.getBackend()).toBe('wasm');
  const model = tinyResNet(classes);
  seedWeights(model, 'adam');
  const optimizer = tf.train.adam(0.01);
  const tensorCounts: number[] = [];
  const losses = train(model, optimizer, 30, (step) => (tensorCounts[step] = tf.memory().numTensors));
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses[29]!).toBeLessThanOrEqual(losses[0]! / 2);
  expect(tensorCounts[30]).toBe(tensorCounts[5]);
  optimizer.dispose();
  model.dispose();
});

it('whole-network training on wasm follows the cpu backend step for step', async () => {
  // Same weights, same data, plain SGD: any wrong gradient kernel (even one the net
  // could learn around) makes the loss curves part within a few steps.
  const run = () => {
    const model = tinyResNet(classes);
    seedWeights(model, 'sgd');
    const before = model.getWeights().map((w) => w.dataSync());
    const optimizer = tf.train.sgd(0.05);
    const losses = train(model, optimizer, 4);
    // What training changed, per weight tensor: this is what the gradients decide.
    const updates = model.getWeights().map((w, i) => w.dataSync().map((v, j) => v - before[i]![j]!));
    optimizer.dispose();
    model.dispose();
    return { losses, updates };
  };
  const onWasm = run();
  await tf.setBackend('cpu');
  const onCpu = run();
  await tf.setBackend('wasm');
  for (let i = 0; i < onCpu.losses.length; i++) {
    expect(Math.abs(onWasm.losses[i]! - onCpu.losses[i]!)).toBeLessThanOrEqual(1e-4 * Math.abs(onCpu.losses[i]!));
  }
  for (let i = 0; i < onCpu.updates.length; i++) {
    expect(relativeError(onWasm.updates[i]!, onCpu.updates[i]!)).toBeLessThanOrEqual(1e-3);
  }
});
