import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { wasmKernelConfigs, wasmKernelsRegistered } from '../../src/engine/tfjs/wasm-kernels/index.js';
import { randomArray, relativeError } from '../helpers/random.js';

type Padding = 'same' | 'valid';
interface Case {
  name: string;
  op: 'conv2d' | 'depthwise';
  kernel: number;
  stride: number;
  pad: Padding;
  size: number;
  batch: number;
  multiplier: number;
}

const inChannels = 3;
const outChannels = 4;

const cases: Case[] = [];
for (const op of ['conv2d', 'depthwise'] as const)
  for (const kernel of [1, 3, 5, 7])
    for (const stride of [1, 2])
      for (const pad of ['same', 'valid'] as const)
        for (const size of [9, 10])
          for (const batch of [1, 3])
            for (const multiplier of op === 'depthwise' ? [1, 2] : [1])
              cases.push({
                name: `${op} k${kernel} s${stride} ${pad} ${size}px batch ${batch}${op === 'depthwise' ? ` mult ${multiplier}` : ''}`,
                op,
                kernel,
                stride,
                pad,
                size,
                batch,
                multiplier,
              });

/** dx and dW of sum(conv(x, w) · r) for a random upstream gradient r, on the current backend. */
function grads(c: Case): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const xShape: [number, number, number, number] = [c.batch, c.size, c.size, inChannels];
    const wShape: [number, number, number, number] =
      c.op === 'conv2d' ? [c.kernel, c.kernel, inChannels, outChannels] : [c.kernel, c.kernel, inChannels, c.multiplier];
    const x = tf.tensor4d(randomArray(xShape.reduce((a, b) => a * b), `x ${c.name}`), xShape);
    const w = tf.tensor4d(randomArray(wShape.reduce((a, b) => a * b), `w ${c.name}`), wShape);
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D =>
      c.op === 'conv2d' ? tf.conv2d(a, b, c.stride, c.pad) : tf.depthwiseConv2d(a, b, c.stride, c.pad);
    const outShape = conv(x, w).shape;
    const r = tf.tensor(randomArray(outShape.reduce((a, b) => a * b), `r ${c.name}`), outShape);
    const [dx, dw] = tf.grads((a, b) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r)))([x, w]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

const reference = new Map<string, { dx: Float32Array; dw: Float32Array }>();

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  await tf.setBackend('cpu');
  for (const c of cases) reference.set(c.name, grads(c));
  await tf.setBackend('wasm');
});

describe('fastvision wasm gradient kernels', () => {
  it('are the kernels tfjs runs for wasm after initBackend', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(wasmKernelsRegistered()).toBe(true);
    expect(wasmKernelConfigs.map((k) => k.kernelName).sort()).toEqual([
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
    ]);
  });

  it.each(cases)('$name: dx and dW match the cpu backend to 1e-4', (c) => {
    const expected = reference.get(c.name)!;
    const tensorsBefore = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds();
    const actual = grads(c);
    expect(relativeError(actual.dx, expected.dx)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(actual.dw, expected.dw)).toBeLessThanOrEqual(1e-4);
    // Intermediates inside the composite kernels are freed, not only the tensors.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
  });

  it('conv2dTranspose (which runs Conv2DBackpropInput) matches cpu with explicit padding', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(randomArray(2 * 5 * 6 * 4, 'tx'), [2, 5, 6, 4]);
        const w = tf.tensor4d(randomArray(3 * 3 * 3 * 4, 'tw'), [3, 3, 3, 4]);
        return tf.conv2dTranspose(x, w, [2, 10, 11, 3], 2, 'same').dataSync() as Float32Array;
      });
    const actual = run();
    await tf.setBackend('cpu');
    const expected = run();
    await tf.setBackend('wasm');
    expect(relativeError(actual, expected)).toBeLessThanOrEqual(1e-4);
  });
});
