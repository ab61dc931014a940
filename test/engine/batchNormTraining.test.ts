import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { batchNormTraining, useFastBatchNorm } from '../../src/engine/tfjs/batchNormTraining.js';
import { randomArray, relativeError } from '../helpers/random.js';

interface Case {
  name: string;
  shape: number[];
  /** Added to x, so a channel's mean is far larger than its spread (the precision trap of Σx² − μ²). */
  shift: number;
}

const cases: Case[] = [
  { name: 'conv activations [4,5,6,8]', shape: [4, 5, 6, 8], shift: 0 },
  { name: 'one image [1,7,7,3]', shape: [1, 7, 7, 3], shift: 0 },
  { name: 'large mean, small spread [3,4,4,5]', shape: [3, 4, 4, 5], shift: 50 },
  { name: "head's BatchNorm1d [6,16]", shape: [6, 16], shift: 0 },
];

interface Result {
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
  y: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

/** A one-layer model through tfjs-layers' BatchNormalization; `fast` switches it to fastvision's op. */
function run(c: Case, fast: boolean): Result {
  const channels = c.shape.at(-1)!;
  const input = tf.input({ shape: c.shape.slice(1) });
  const layer = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  const weights = [
    tf.tensor1d(randomArray(channels, `gamma ${c.name}`)),
    tf.tensor1d(randomArray(channels, `beta ${c.name}`)),
    tf.tensor1d(randomArray(channels, `mm ${c.name}`)),
    tf.tensor1d(randomArray(channels, `mv ${c.name}`).map((v) => v + 2)),
  ];
  model.setWeights(weights);
  tf.dispose(weights);
  if (fast) expect(useFastBatchNorm(model)).toBe(1);
  const size = c.shape.reduce((a, b) => a * b);
  const result = tf.tidy(() => {
    const x = tf.add(tf.tensor(randomArray(size, `x ${c.name}`), c.shape), c.shift);
    const r = tf.tensor(randomArray(size, `r ${c.name}`), c.shape);
    const [gamma, beta] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    let y!: tf.Tensor;
    const { grads } = tf.variableGrads(() => {
      y = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
      return tf.sum(tf.mul(y, r));
    }, [gamma!, beta!]);
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(model.apply(xi, { training: true }) as tf.Tensor, r)))(x);
    const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
    const out = {
      dx: read(dx),
      dGamma: read(grads[gamma!.name]!),
      dBeta: read(grads[beta!.name]!),
      y: read(y),
      // Two training passes ran: the running averages moved twice.
      movingMean: read(layer.getWeights()[2]!),
      movingVariance: read(layer.getWeights()[3]!),
    };
    y.dispose();
    return out;
  });
  model.dispose();
  return result;
}

const reference = new Map<string, Result>();

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  await tf.setBackend('cpu');
  for (const c of cases) reference.set(c.name, run(c, false));
  await tf.setBackend('wasm');
});

describe('batchNormTraining (fastvision BatchNorm gradient)', () => {
  it.each(cases)('$name: output, dx, dγ, dβ and running averages on wasm match stock tfjs-layers on cpu to 1e-4', (c) => {
    const expected = reference.get(c.name)!;
    const before = tf.memory().numTensors;
    const actual = run(c, true);
    for (const key of ['y', 'dx', 'dGamma', 'dBeta', 'movingMean', 'movingVariance'] as const) {
      expect(relativeError(actual[key], expected[key]), key).toBeLessThanOrEqual(1e-4);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(cases)('$name: the tfjs-ops version (for tfjs-node and GPUs) matches the fused loops', (c) => {
    const channels = c.shape.at(-1)!;
    const size = c.shape.reduce((a, b) => a * b);
    const run = (host: boolean) =>
      tf.tidy(() => {
        const x = tf.add(tf.tensor(randomArray(size, `x ${c.name}`), c.shape), c.shift);
        const r = tf.tensor(randomArray(size, `r ${c.name}`), c.shape);
        const gamma = tf.tensor1d(randomArray(channels, `gamma ${c.name}`));
        const beta = tf.tensor1d(randomArray(channels, `beta ${c.name}`));
        const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          const { y, mean, variance } = batchNormTraining(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5, host);
          tf.dispose([mean, variance]);
          return tf.sum(tf.mul(y, r));
        };
        const { value, grads } = tf.valueAndGrads(f)([x, gamma, beta]);
        return [value, ...grads].map((t) => t.dataSync() as Float32Array);
      });
    const host = run(true);
    const ops = run(false);
    host.forEach((h, k) => expect(relativeError(ops[k]!, h), `output ${k}`).toBeLessThanOrEqual(1e-4));
  });

  it('leaves inference, and layers it cannot handle, to tfjs-layers', () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const plain = tf.layers.batchNormalization({ center: false });
    const normal = tf.layers.batchNormalization({});
    const model = tf.model({ inputs: input, outputs: normal.apply(plain.apply(input)) as tf.SymbolicTensor });
    expect(useFastBatchNorm(model)).toBe(1);
    expect(useFastBatchNorm(model)).toBe(0);
    const x = tf.randomNormal([2, 4, 4, 3]);
    const a = model.predict(x) as tf.Tensor;
    const b = model.apply(x, { training: false }) as tf.Tensor;
    expect(relativeError(a.dataSync(), b.dataSync())).toBe(0);
    tf.dispose([x, a, b]);
    model.dispose();
  });
});
