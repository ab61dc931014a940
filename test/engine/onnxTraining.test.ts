import * as ort from 'onnxruntime-node';
import seedrandom from 'seedrandom';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/core/tf.js';
import { initBackend } from '../../src/index.js';
import {
  compileTrainStep,
  convertLayout,
  createTrainSession,
  initialTrainState,
  trainStepOrt,
  variableOf,
  writeTrainState,
  type CompiledTrainStep,
  type TrainState,
} from '../../src/engine/onnx/training/index.js';
import { normRelative } from '../../src/engine/ort/trainSelfCheck.js';
import { Adam } from '../../src/learner/optimizer.js';
import { createVisionModel } from '../../src/vision/visionModel.js';
import { randomArray, relativeError } from '../helpers/random.js';

/**
 * The training step compiled to one ONNX graph (issue 22) against tfjs's own
 * gradients (`tf.variableGrads` on wasm, the same loss) and tfjs's SGD-momentum update.
 */

/** ‖a‖ (gradients are compared by `normRelative`: float32 engines differ in rounding, and BatchNorm amplifies it). */
function norm(a: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += a[i]! ** 2;
  return Math.sqrt(n);
}


const lr = 0.1;
const mom = 0.9;

interface Comparison {
  loss: { ort: number; tfjs: number };
  /** Per state key: gradient error (max-relative and norm-relative). */
  grads: Record<string, { max: number; norm: number; refNorm: number; ownNorm: number }>;
  /** Per state key: updated weight / running statistic error. */
  updated: Record<string, { max: number; norm: number }>;
  step: CompiledTrainStep;
  /** tfjs tensors the ORT side added. */
  tensorsAdded: number;
  /** Per state key: ORT's gradient (Keras layout) and tfjs's. */
  raw: Record<string, { ort: Float32Array; tfjs: Float32Array }>;
}

/**
 * One step on both engines from the same weights. ORT's state is read before tfjs's
 * step (which updates the running statistics in place).
 */
async function compareOneStep(model: tf.LayersModel, batch: number, size: number, classes: number, seed: string): Promise<Comparison> {
  const tensorsBefore = tf.memory().numTensors;
  const step = compileTrainStep(model, { batch, height: size, width: size, loss: 'crossEntropy', optimizer: 'sgd', trainable: () => true, outputGradients: true });
  const session = await createTrainSession(ort, step, 1);
  const state = initialTrainState(ort, model, step);
  const images = randomArray(batch * size * size * 3, seed);
  const labels = Array.from({ length: batch }, (_, i) => (i * 7 + 1) % classes);
  const result = await trainStepOrt(ort, session, step, state, { images, labels }, { groups: [{ lr, mom, wd: 0 }] });
  // The compiled step leaves no tfjs tensor behind (tfjs's own momentum optimizer below leaks its −lr scalar).
  const tensorsAdded = tf.memory().numTensors - tensorsBefore;

  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const x = tf.tensor4d(images, [batch, size, size, 3]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes));
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
  const tfLoss = (await value.data())[0]!;
  const optimizer = tf.train.momentum(lr, mom);
  optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0]);

  const cmp: Comparison = { loss: { ort: result.loss, tfjs: tfLoss }, grads: {}, updated: {}, step, tensorsAdded, raw: {} };
  for (const entry of step.state) {
    const variable = variableOf(model, entry).read() as tf.Variable;
    if (entry.gradient) {
      const mine = convertLayout(entry, result.grads[entry.key]!.data as Float32Array, false);
      const theirs = grads[variable.name]!.dataSync();
      cmp.grads[entry.key] = { max: relativeError(mine, theirs), norm: normRelative(mine, theirs), refNorm: norm(theirs), ownNorm: norm(mine) };
      cmp.raw[entry.key] = { ort: mine, tfjs: theirs.slice() as Float32Array };
    }
    if (entry.output) {
      const mine = convertLayout(entry, result.state[entry.key]!.data as Float32Array, false);
      const theirs = variable.dataSync();
      cmp.updated[entry.key] = { max: relativeError(mine, theirs), norm: normRelative(mine, theirs) };
    }
  }
  tf.dispose([x, y, value, ...Object.values(grads)]);
  optimizer.dispose();
  await session.release();
  return cmp;
}

/**
 * tfjs draws initial weights from Math.random: seeded, so every run compares the same
 * nets. Unseeded, 1 ResNet-18 in ~8 had a BatchNorm β whose gradient differed by
 * 7e-3 by norm (layer1_1_bn1: Σdy over terms that nearly cancel, summed in a
 * different order by each engine); typical is 1e-4–1e-3.
 */
function seeded<T>(seed: string, build: () => T): T {
  const random = Math.random;
  Math.random = seedrandom(seed);
  try {
    return build();
  } finally {
    Math.random = random;
  }
}

/** {@link seeded} for a builder that awaits (the head is built after the body's promise). */
async function seededAsync<T>(seed: string, build: () => Promise<T>): Promise<T> {
  const random = Math.random;
  Math.random = seedrandom(seed);
  try {
    return await build();
  } finally {
    Math.random = random;
  }
}

const worst = (r: Record<string, { max: number; norm: number }>, k: 'max' | 'norm') =>
  Object.entries(r).reduce<[string, number]>((w, [key, v]) => (v[k] > w[1] ? [key, v[k]] : w), ['', 0]);

/**
 * A small net with every layer class ResNet's step needs (BatchNorm after every conv
 * when asked), 16 px: conv → pad → max pool (8 px) → a block whose three branches are
 * a strided conv then a 'valid' conv re-padded by a ZeroPadding2D that stays a Pad, a
 * 'same' conv, a strided 'same' conv and a strided 1×1 shortcut → the fastai head's concat pooling → Dense.
 */
function smallNet(withBatchNorm: boolean): tf.LayersModel {
  const input = tf.input({ shape: [16, 16, 3] });
  const conv = (x: tf.SymbolicTensor, filters: number, kernel: number, strides: number, pad: number, useBias = false) => {
    const padded = pad ? (tf.layers.zeroPadding2d({ padding: pad }).apply(x) as tf.SymbolicTensor) : x;
    const y = tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding: 'valid', useBias }).apply(padded) as tf.SymbolicTensor;
    return withBatchNorm ? (tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 }).apply(y) as tf.SymbolicTensor) : y;
  };
  const relu = (x: tf.SymbolicTensor) => tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  let x = relu(conv(input, 8, 3, 1, 1));
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid' }).apply(tf.layers.zeroPadding2d({ padding: 1 }).apply(x)) as tf.SymbolicTensor;
  // A residual block with a strided conv and a strided 1×1 shortcut.
  const a = relu(conv(x, 12, 3, 2, 1));
  // A bias before a BatchNorm has a zero gradient (the mean is subtracted): only without BatchNorm.
  const b = conv(a, 12, 3, 1, 0, !withBatchNorm);
  const c = tf.layers.conv2d({ filters: 12, kernelSize: 3, padding: 'same', useBias: !withBatchNorm }).apply(a) as tf.SymbolicTensor;
  const shortcut = conv(x, 12, 1, 2, 0);
  const cropped = tf.layers.zeroPadding2d({ padding: 1 }).apply(b) as tf.SymbolicTensor;
  // TF's 'same' with stride 2 on 8 px pads 0 before and 1 after: an asymmetric ConvTranspose.
  const d = tf.layers.conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: 'same', useBias: !withBatchNorm }).apply(x) as tf.SymbolicTensor;
  x = relu(tf.layers.add().apply([cropped, shortcut, c, d]) as tf.SymbolicTensor);
  const max = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
  const avg = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  let h = tf.layers.concatenate().apply([max, avg]) as tf.SymbolicTensor;
  if (withBatchNorm) h = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 5 }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits });
}

describe('training step compiled to ONNX (issue 22)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('a BatchNorm-free net: loss, gradients and the SGD-momentum update agree with tfjs to 1e-4', async () => {
    const model = seeded('small', () => smallNet(false));
    const cmp = await compareOneStep(model, 4, 16, 5, 'small');
    expect(cmp.tensorsAdded).toBe(0);
    console.log('BN-free: loss', cmp.loss, 'worst grad', worst(cmp.grads, 'max'), 'worst update', worst(cmp.updated, 'max'));
    expect(Math.abs(cmp.loss.ort - cmp.loss.tfjs) / cmp.loss.tfjs).toBeLessThan(1e-5);
    expect(Object.keys(cmp.grads)).toHaveLength(model.trainableWeights.length);
    for (const [key, e] of Object.entries(cmp.grads)) expect(e.max, `gradient of ${key}`).toBeLessThan(1e-4);
    for (const [key, e] of Object.entries(cmp.updated)) expect(e.max, `updated ${key}`).toBeLessThan(1e-4);
    model.dispose();
  });

  it('with BatchNorm: gradients to 5e-3 by norm, running statistics to 1e-4', async () => {
    const model = seeded('bn', () => smallNet(true));
    const cmp = await compareOneStep(model, 4, 16, 5, 'bn');
    expect(cmp.tensorsAdded).toBe(0);
    const stats = Object.fromEntries(Object.entries(cmp.updated).filter(([k]) => k.includes('moving_')));
    console.log(`BN: loss ${JSON.stringify(cmp.loss)} worst grad (norm) ${worst(cmp.grads, 'norm').join(' ')} worst running stat (max) ${worst(stats, 'max').join(' ')}`);
    expect(Object.keys(stats).length).toBeGreaterThan(0);
    expect(Math.abs(cmp.loss.ort - cmp.loss.tfjs) / cmp.loss.tfjs).toBeLessThan(1e-5);
    for (const [key, e] of Object.entries(cmp.grads)) expect(e.norm, `gradient of ${key}`).toBeLessThan(5e-3);
    for (const [key, e] of Object.entries(stats)) expect(e.max, `running ${key}`).toBeLessThan(1e-4);
    model.dispose();
  });

  it('ResNet-18 with the fastai head, unfrozen, batch 4 at 64 px: gradients to 5e-3 by norm, loss to 1e-5', async () => {
    const { model } = await seededAsync('resnet18', () => createVisionModel('resnet18', 3, { pretrained: false, ps: 0 }));
    const cmp = await compareOneStep(model, 4, 64, 3, 'resnet');
    expect(cmp.tensorsAdded).toBe(0);
    console.log('ResNet-18: nodes', cmp.step.nodeCount, 'loss', cmp.loss, 'worst grad (norm)', worst(cmp.grads, 'norm'), 'worst grad (max)', worst(cmp.grads, 'max'), 'worst update (norm)', worst(cmp.updated, 'norm'));
    // This seeded net: 1.6e-6. Unseeded nets went up to 2.7e-5: with 21 BatchNorms (the
    // head's two over 4 samples) that is the level at which tfjs's own engines disagree
    // (on one such net the logits of tfjs-wasm and tfjs-cpu differed by 5.7e-5, ORT's
    // from tfjs-cpu by 4.6e-5).
    expect(Math.abs(cmp.loss.ort - cmp.loss.tfjs) / cmp.loss.tfjs).toBeLessThan(1e-5);
    expect(Object.keys(cmp.grads)).toHaveLength(model.trainableWeights.length);
    for (const [key, e] of Object.entries(cmp.grads)) expect(e.norm, `gradient of ${key}`).toBeLessThan(5e-3);
    model.dispose();
  });

  it('frozen layers get no gradient, keep their weights, and the state round-trips into the model', async () => {
    const model = smallNet(true);
    const dense = model.layers.at(-1)!.name;
    const tensorsBefore = tf.memory().numTensors;
  const step = compileTrainStep(model, { batch: 2, height: 16, width: 16, loss: 'crossEntropy', optimizer: 'sgd', trainable: (n) => n === dense });
    const trained = step.state.filter((e) => e.slots).map((e) => e.layer);
    expect(new Set(trained)).toEqual(new Set([dense]));
    const session = await createTrainSession(ort, step, 1);
    let state: TrainState = initialTrainState(ort, model, step);
    const frozen = step.state.find((e) => e.kind === 'weight' && !e.output)!;
    const frozenBefore = state[frozen.key]!;
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await trainStepOrt(ort, session, step, state, { images: randomArray(2 * 16 * 16 * 3, 'f'), labels: [1, 3] }, { groups: [{ lr: 0.05, mom: 0.9, wd: 0.01 }] });
      state = r.state;
      losses.push(r.loss);
    }
    expect(state[frozen.key]).toBe(frozenBefore);
    expect(losses[2]!).toBeLessThan(losses[0]!);
    const before = tf.memory().numTensors;
    writeTrainState(model, step, state);
    expect(tf.memory().numTensors).toBe(before);
    const kernel = step.state.find((e) => e.layer === dense && e.key.endsWith('/kernel'))!;
    expect(relativeError(variableOf(model, kernel).read().dataSync(), state[kernel.key]!.data as Float32Array)).toBe(0);
    await session.release();
    model.dispose();
  });

  it('depthwise convolutions (stride 1 and 2, folded and same padding) and ReLU6 agree with tfjs to 1e-4', async () => {
    const model = seeded('depthwise', () => {
      const input = tf.input({ shape: [16, 16, 3] });
      let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }).apply(input) as tf.SymbolicTensor;
      // Scaled up so that ReLU6 clips some values.
      x = tf.layers.reLU({ maxValue: 0.5 }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.zeroPadding2d({ padding: 1 }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'valid', useBias: false }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
      x = tf.layers.zeroPadding2d({ padding: 1 }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', useBias: true }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.conv2d({ filters: 6, kernelSize: 1, useBias: false }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4 }).apply(x) as tf.SymbolicTensor });
    });
    const cmp = await compareOneStep(model, 4, 16, 4, 'depthwise');
    expect(cmp.tensorsAdded).toBe(0);
    console.log(`depthwise: loss ${JSON.stringify(cmp.loss)} worst grad (max) ${worst(cmp.grads, 'max').join(' ')} worst update (max) ${worst(cmp.updated, 'max').join(' ')}`);
    expect(Object.keys(cmp.grads)).toHaveLength(model.trainableWeights.length);
    for (const [key, e] of Object.entries(cmp.grads)) expect(e.max, `gradient of ${key}`).toBeLessThan(1e-4);
    for (const [key, e] of Object.entries(cmp.updated)) expect(e.max, `updated ${key}`).toBeLessThan(1e-4);
    model.dispose();
  });

  it('MobileNetV2 with the fastai head, batch 4 at 64 px: every gradient as close to tfjs-cpu as tfjs-wasm is', async () => {
    const { model } = await seededAsync('mobilenetV2', () => createVisionModel('mobilenetV2', 3, { pretrained: false, ps: 0 }));
    const initial = model.getWeights().map((w) => ({ values: w.dataSync().slice(), shape: w.shape }));
    const cmp = await compareOneStep(model, 4, 64, 3, 'mobilenet');
    expect(cmp.tensorsAdded).toBe(0);
    model.dispose();
    // MobileNetV2's 52 BatchNorms put float32 noise at the 1e-2 level even between
    // tfjs's own backends (tfjs-wasm and tfjs-cpu differ by 2e-2 by norm on the first
    // conv's gradient), so a fixed bar against wasm says little: the reference is
    // tfjs-cpu, and ORT must be no further from it than tfjs-wasm is (×1.5, or 5e-3).
    await tf.setBackend('cpu');
    try {
      const { model: onCpu } = await createVisionModel('mobilenetV2', 3, { pretrained: false, ps: 0 });
      onCpu.setWeights(initial.map((w) => tf.tensor(w.values, w.shape)));
      const x = tf.tensor4d(randomArray(4 * 64 * 64 * 3, 'mobilenet'), [4, 64, 64, 3]);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d([1, 2, 0, 1], 'int32'), 3)); // compareOneStep's labels
      const vars = onCpu.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, onCpu.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
      let worstRatio: [string, number, number, number] = ['', 0, 0, 0];
      for (const entry of cmp.step.state) {
        if (!entry.gradient) continue;
        const reference = grads[(variableOf(onCpu, entry).read() as tf.Variable).name]!.dataSync();
        const { ort: mine, tfjs: wasm } = cmp.raw[entry.key]!;
        // Each block's projection-BatchNorm β feeds a conv and a BatchNorm that removes any constant: 0 up to rounding.
        if (norm(reference) < 1e-4) {
          expect(norm(mine), `gradient of ${entry.key} (0 up to rounding)`).toBeLessThan(1e-3);
          continue;
        }
        const ortErr = normRelative(mine, reference);
        const wasmErr = normRelative(wasm, reference);
        if (ortErr / Math.max(wasmErr, 1e-12) > worstRatio[1]) worstRatio = [entry.key, ortErr / Math.max(wasmErr, 1e-12), ortErr, wasmErr];
        expect(ortErr, `gradient of ${entry.key} (tfjs-wasm is ${wasmErr.toExponential(2)} from tfjs-cpu)`).toBeLessThan(Math.max(1.5 * wasmErr, 5e-3));
      }
      console.log(`MobileNetV2: nodes ${cmp.step.nodeCount}; loss ${JSON.stringify(cmp.loss)}; worst ORT/wasm error ratio vs tfjs-cpu ${worstRatio.join(' ')}`);
      tf.dispose([x, y, ...Object.values(grads)]);
      onCpu.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
  }, 300_000);

  it('Dropout with a rate takes its mask as an input: gradients agree with tfjs applying the same mask', async () => {
    const [conv, pool, drop, dense] = [
      tf.layers.conv2d({ filters: 6, kernelSize: 3, useBias: true }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dropout({ rate: 0.5, name: 'drop' }),
      tf.layers.dense({ units: 3 }),
    ];
    const model = seeded('dropout', () => {
      const input = tf.input({ shape: [8, 8, 3] });
      const h = pool.apply(conv.apply(input)) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: dense.apply(drop.apply(h)) as tf.SymbolicTensor });
    });
    const step = compileTrainStep(model, { batch: 4, height: 8, width: 8, loss: 'crossEntropy', optimizer: 'sgd', trainable: () => true, outputGradients: true });
    expect(step.inputs.find((i) => i.name === 'drop:mask')).toEqual({ name: 'drop:mask', dtype: 'float32', shape: [4, 6] });
    const mask = Float32Array.from(randomArray(24, 'mask'), (v) => (v > 0 ? 2 : 0));
    const images = randomArray(4 * 8 * 8 * 3, 'dropout');
    const labels = [0, 1, 2, 1];
    const session = await createTrainSession(ort, step, 1);
    const result = await trainStepOrt(ort, session, step, initialTrainState(ort, model, step), { images, labels, masks: { drop: mask } }, { groups: [{ lr, mom, wd: 0 }] });
    await session.release();
    // tfjs with the same mask: the layers applied by hand, the Dropout replaced by the product.
    const x = tf.tensor4d(images, [4, 8, 8, 3]);
    const m = tf.tensor2d(mask, [4, 6]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 3));
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => {
      const h = pool.apply(conv.apply(x)) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(y, dense.apply(tf.mul(h, m)) as tf.Tensor) as tf.Scalar;
    }, vars);
    expect(Math.abs(result.loss - value.dataSync()[0]!)).toBeLessThan(1e-6);
    for (const entry of step.state) {
      const mine = convertLayout(entry, result.grads[entry.key]!.data as Float32Array, false);
      expect(relativeError(mine, grads[(variableOf(model, entry).read() as tf.Variable).name]!.dataSync()), `gradient of ${entry.key}`).toBeLessThan(1e-4);
    }
    tf.dispose([x, m, y, value, ...Object.values(grads)]);
    model.dispose();
  });

  it("fastai's Adam with two layer groups (discriminative lrs, decoupled wd) equals the Learner's Adam over 3 steps; outputs written into a spare state match", async () => {
    const model = seeded('adam', () => smallNet(false));
    const kernels = model.layers.filter((l) => l.weights.length > 0);
    const first = new Set(kernels.slice(0, 2).map((l) => l.name));
    const groupOf = (name: string) => (first.has(name) ? 0 : 1);
    const hypers = [
      { lr: 0.002, mom: 0.85, sqrMom: 0.99, eps: 1e-5, wd: 0.01 },
      { lr: 0.02, mom: 0.9, sqrMom: 0.99, eps: 1e-5, wd: 0.1 },
    ];
    const step = compileTrainStep(model, { batch: 2, height: 16, width: 16, loss: 'crossEntropy', optimizer: 'adam', groups: 2, groupOf, trainable: () => true });
    expect(step.inputs.map((i) => i.name).filter((n) => n.startsWith('g1:'))).toEqual(['g1:lr', 'g1:mom', 'g1:sqrMom', 'g1:eps', 'g1:wd', 'g1:stepSize', 'g1:debias2']);
    const session = await createTrainSession(ort, step, 1);
    let state = initialTrainState(ort, model, step);
    let spare: TrainState | undefined = initialTrainState(ort, model, step);
    const batches = [0, 1, 2].map((k) => ({ images: randomArray(2 * 16 * 16 * 3, `adam${k}`), labels: [k % 5, (k + 2) % 5] }));
    const losses: number[] = [];
    for (const [k, batch] of batches.entries()) {
      const prev = state;
      const r = await trainStepOrt(ort, session, step, state, batch, { groups: hypers, step: k + 1 }, spare);
      if (k === 0) expect(r.state[step.state.find((e) => e.output)!.key]).toBe(spare![step.state.find((e) => e.output)!.key]);
      state = r.state;
      spare = prev;
      losses.push(r.loss);
    }
    await session.release();

    // The Learner's Adam on tfjs, the same groups (kernels decay, biases do not), the same batches.
    const groups = [0, 1].map((g) => {
      const vars = kernels.filter((l) => groupOf(l.name) === g).flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
      return { params: vars, noWd: new Set(vars.filter((v) => !/kernel/.test(v.name))) };
    });
    const opt = new Adam(groups, 0, {});
    hypers.forEach((h, g) => Object.assign(opt.hypers[g]!, h));
    const tfLosses: number[] = [];
    for (const batch of batches) {
      const x = tf.tensor4d(batch.images, [2, 16, 16, 3]);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.labels, 'int32'), 5));
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      tfLosses.push((await value.data())[0]!);
      opt.step(grads);
      tf.dispose([x, y, value, ...Object.values(grads)]);
    }
    opt.dispose();
    losses.forEach((l, k) => expect(Math.abs(l - tfLosses[k]!) / tfLosses[k]!, `loss of step ${k + 1}`).toBeLessThan(1e-5));
    let worstErr = 0;
    for (const entry of step.state.filter((e) => e.output)) {
      const ours = convertLayout(entry, state[entry.key]!.data as Float32Array, false);
      const err = normRelative(ours, variableOf(model, entry).read().dataSync());
      worstErr = Math.max(worstErr, err);
      expect(err, entry.key).toBeLessThan(1e-5);
    }
    console.log('Adam, 2 groups, 3 steps: losses', losses, 'worst weight (norm)', worstErr);
    model.dispose();
  });

  it('refuses what it cannot write yet, naming the layer (a depth multiplier of 2)', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const x = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, name: 'dw2' }).apply(input) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(pooled) as tf.SymbolicTensor });
    expect(() => compileTrainStep(model, { batch: 2, height: 8, width: 8, loss: 'crossEntropy', optimizer: 'sgd', trainable: () => true })).toThrow(
      /compileTrainStep cannot write layer 'dw2' \(DepthwiseConv2D\): depth multiplier 2/,
    );
    model.dispose();
  });
});
