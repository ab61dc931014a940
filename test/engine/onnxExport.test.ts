import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/core/tf.js';
import { FastvisionError } from '../../src/core/errors.js';
import { toOnnx } from '../../src/engine/onnx/index.js';
import { onnx, type ValueInfoProto } from '../../src/engine/onnx/proto.js';
import { DataLoaders, initBackend, visionLearner } from '../../src/index.js';
import { fromLayersModel } from '../../src/vision/body.js';
import { createVisionModel } from '../../src/vision/visionModel.js';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';
import { randomArray } from '../helpers/random.js';

// ONNX's checker is Debian's python3-onnx for /usr/bin/python3 (.ci/run installs it).
const python = '/usr/bin/python3';
const out = tempDir('fastvision-onnx-');
const tolerance = 1e-4;

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

// The exports add up to ~500 MB (resnet50's alone is 100 MB, twice).
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Random BatchNorm statistics and affine weights (variance in [0.5, 1.5]), seeded, so folding them is tested hard. */
function randomizeBatchNorm(model: tf.LayersModel, only = (_layer: tf.layers.Layer) => true): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization' || !only(layer)) continue;
    const fresh = layer.getWeights().map((w, k, all) => {
      const r = randomArray(w.size, `${layer.name} ${k}`);
      return tf.tensor(k === all.length - 1 ? r.map((v) => 1 + v / 2) : r, w.shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

/**
 * Exports `model` (checking that no tensor is left behind), writes the file for the
 * checker, and runs tfjs and ONNX Runtime on the same NHWC batches: max |Δ| per size.
 */
async function parity(model: tf.LayersModel, name: string, sizes: (number | [number, number])[], batch = 2): Promise<number[]> {
  const before = tf.memory().numTensors;
  const bytes = await toOnnx(model);
  expect(tf.memory().numTensors, `${name}: tensors left by toOnnx`).toBe(before);
  writeFileSync(join(out, `${name}.onnx`), bytes);
  const session = await ort.InferenceSession.create(bytes);
  const diffs: number[] = [];
  let scale = 0;
  for (const size of sizes) {
    const [h, w] = typeof size === 'number' ? [size, size] : size;
    const data = randomArray(batch * h * w * 3, `${name} ${size}`);
    const x = tf.tensor4d(data, [batch, h, w, 3]);
    const y = model.predict(x) as tf.Tensor;
    const expected = y.dataSync() as Float32Array;
    const result = await session.run({ input: new ort.Tensor('float32', data, [batch, h, w, 3]) });
    expect(result.output!.dims, `${name} ${size} px`).toEqual(y.shape);
    const actual = result.output!.data as Float32Array;
    diffs.push(expected.reduce((m, v, i) => Math.max(m, Math.abs(v - actual[i]!)), 0));
    scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), scale);
    tf.dispose([x, y]);
  }
  await session.release();
  console.log(`${name}: max |Δ| ${diffs.map((d, i) => `${d.toExponential(2)} at ${String(sizes[i]).replace(',', '×')} px`).join(', ')} (max |y| ${scale.toFixed(2)})`);
  return diffs;
}

/** ONNX's own checker (full) and strict shape inference on written files; its report lines. */
function onnxCheck(names: string[]): string[] {
  const run = spawnSync(python, [join(import.meta.dirname, 'onnx_check.py'), ...names.map((n) => join(out, `${n}.onnx`))], { encoding: 'utf8' });
  if (run.error || (run.status !== 0 && /No module named 'onnx'/.test(run.stderr))) {
    throw new Error(`ONNX's checker is not available (apt-get install python3-onnx): ${run.error?.message ?? run.stderr}`);
  }
  expect(run.stderr, 'onnx checker').toBe('');
  expect(run.status).toBe(0);
  return run.stdout.trim().split('\n');
}

/** nsfwjs's Keras MobileNetV2 (224 px, 'same' padding, ReLU6, real ImageNet-trained BatchNorm), as fusedInference.test.ts loads it. */
async function nsfwjsMobileNetV2(): Promise<tf.LayersModel> {
  const require = createRequire(import.meta.url);
  const { MobileNetV2Model } = require('nsfwjs/models/mobilenet_v2');
  const { modelTopology, weightsManifest } = (await MobileNetV2Model.modelJson()).default;
  const shard = Buffer.from((await MobileNetV2Model.weightBundles[0]()).default as string, 'base64');
  const weightData = shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology, weightSpecs: weightsManifest[0].weights, weightData }));
}

/** A Keras-style model through every converter path fastvision's own archs do not take. */
function kerasZoo(): tf.LayersModel {
  const L = tf.layers;
  const x = tf.input({ shape: [null, null, 3], name: 'image' });
  const apply = (layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(input) as tf.SymbolicTensor;
  // 'same' convs with bias and activations, stride 2 (odd sizes pad one pixel more at the bottom/right).
  let a = apply(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'same_s2' }), x);
  a = apply(L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'elu', name: 'dilated' }), a);
  a = apply(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6', name: 'dw_mult2' }), a);
  // A padding before a stride-2 'same' conv stays a Pad (SAME_UPPER takes no pads); before a
  // stride-1 'same' conv (explicit pads, even kernel) or a 'valid' depthwise conv (with bias) it folds.
  a = apply(L.zeroPadding2d({ padding: [[1, 0], [2, 1]], name: 'pad_same_s2' }), a);
  a = apply(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: 'same_s2_after_pad' }), a);
  a = apply(L.zeroPadding2d({ padding: [[0, 2], [1, 0]], name: 'pad_same_s1' }), a);
  a = apply(L.conv2d({ filters: 8, kernelSize: 2, padding: 'same', name: 'same_s1_even' }), a);
  a = apply(L.zeroPadding2d({ padding: 1, name: 'pad_dw' }), a);
  a = apply(L.depthwiseConv2d({ kernelSize: 3, name: 'dw_valid_bias' }), a);
  a = apply(L.batchNormalization({ name: 'bn_after_dw_bias' }), a);
  // A BatchNorm on a sum (not foldable) and one without scale/center.
  const b = apply(L.conv2d({ filters: 8, kernelSize: 1, name: 'branch' }), a);
  let s = apply(L.add({ name: 'sum3' }), [a, b, a]);
  s = apply(L.batchNormalization({ epsilon: 0.01, name: 'bn_4d' }), s);
  s = apply(L.batchNormalization({ scale: false, center: false, name: 'bn_plain' }), s);
  s = apply(L.activation({ activation: 'swish', name: 'swish' }), s);
  // Padding before pools (zeros, not −∞ and counted in the average: values are negative here), 'same' pools.
  let p = apply(L.activation({ activation: 'tanh', name: 'tanh' }), s);
  p = apply(L.rescaling({ scale: 1, offset: -2, name: 'negative' }), p);
  const pm = apply(L.maxPooling2d({ poolSize: 3, strides: 2, name: 'maxpool_valid' }), apply(L.zeroPadding2d({ padding: [[0, 1], [1, 0]], name: 'pad_maxpool' }), p));
  const pa = apply(L.averagePooling2d({ poolSize: 2, name: 'avgpool_valid' }), apply(L.zeroPadding2d({ padding: 1, name: 'pad_avgpool' }), p));
  const q = apply(L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'avgpool_same' }), s);
  const r = apply(L.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'maxpool_same' }), s);
  let c = apply(L.concatenate({ name: 'concat_channels' }), [q, r]);
  c = apply(L.activation({ activation: 'softmax', name: 'softmax_channels' }), c);
  c = apply(L.dense({ units: 4, activation: 'softplus', name: 'dense_4d' }), c);
  c = apply(L.reLU({ maxValue: 0.3, name: 'relu_cap' }), c);
  // Head-like tail: pools, a BatchNorm on [N, C], dense layers.
  const g = apply(L.concatenate({ name: 'pools' }), [
    apply(L.globalMaxPooling2d({ name: 'gmax' }), c),
    apply(L.globalAveragePooling2d({ name: 'gavg_max' }), pm),
    apply(L.globalAveragePooling2d({ name: 'gavg_avg' }), pa),
  ]);
  let h = apply(L.batchNormalization({ name: 'bn_2d' }), g);
  h = apply(L.dropout({ rate: 0.5, name: 'drop' }), h);
  h = apply(L.dense({ units: 6, activation: 'selu', name: 'dense_selu' }), h);
  h = apply(L.activation({ activation: 'hardSigmoid', name: 'hard_sigmoid' }), h);
  h = apply(L.dense({ units: 5, useBias: false, activation: 'softsign', name: 'dense_nobias' }), h);
  h = apply(L.activation({ activation: 'sigmoid', name: 'sigmoid' }), h);
  h = apply(L.dense({ units: 3, activation: 'softmax', name: 'dense_softmax' }), h);
  return tf.model({ inputs: x, outputs: h, name: 'keras_zoo' });
}

/** Flatten of a 4-D tensor feeds a Dense, so it must keep Keras's NHWC element order (a fixed input size). */
function flattenDense(): tf.LayersModel {
  const x = tf.input({ shape: [9, 7, 3], name: 'fixed' });
  const y = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: 'conv' }).apply(x) as tf.SymbolicTensor;
  const z = tf.layers.flatten({ name: 'flatten' }).apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: tf.layers.dense({ units: 3, name: 'dense' }).apply(z) as tf.SymbolicTensor, name: 'flatten_dense' });
}

describe('toOnnx', () => {
  it('resnet18/34/50 and mobilenetV2 with the fastai head, after an epoch of training: ONNX Runtime gives the tfjs logits (1e-4) at 32 and 48 px, and again with random BatchNorm statistics', async () => {
    const { dir, rows } = await writePatterns(8, 11);
    const dls = await DataLoaders.fromDataFrame(rows, { path: dir, validPct: 0.25, seed: 2, bs: 4, size: 32 });
    const names: string[] = [];
    for (const arch of ['resnet18', 'resnet34', 'resnet50', 'mobilenetV2'] as const) {
      const learn = await visionLearner(dls, arch, { pretrained: false, logger: () => {} });
      await learn.fit(1, 1e-3);
      for (const d of await parity(learn.model, arch, [32, 48])) expect(d, arch).toBeLessThanOrEqual(tolerance);
      randomizeBatchNorm(learn.model);
      for (const d of await parity(learn.model, `${arch}-randomBn`, [40])) expect(d, `${arch} random BN`).toBeLessThanOrEqual(tolerance);
      names.push(arch, `${arch}-randomBn`);
      learn.model.dispose();
    }
    const report = onnxCheck(names);
    expect(report).toHaveLength(names.length);
    for (const line of report) expect(line).toMatch(/ ok opset 13 output \['N', 2\]$/);
  });

  it("nsfwjs's Keras MobileNetV2 as a body ('same' padding, ReLU6, trained BatchNorm) with a yRange head, and the body alone (a 4-D NHWC output)", async () => {
    const keras = await nsfwjsMobileNetV2();
    const body = fromLayersModel(keras, { cut: 'out_relu', normalize: { mean: [0, 0, 0], std: [1, 1, 1] } });
    const { model } = await createVisionModel(body, 2, { yRange: [-1, 3], bnFinal: true });
    randomizeBatchNorm(model, (l) => l.name.startsWith('head_')); // the body's keep their ImageNet statistics
    for (const d of await parity(model, 'nsfwjs-yrange', [37, 48])) expect(d).toBeLessThanOrEqual(tolerance);
    for (const d of await parity(body.model, 'nsfwjs-body', [33])) expect(d).toBeLessThanOrEqual(tolerance);
    const report = onnxCheck(['nsfwjs-yrange', 'nsfwjs-body']);
    expect(report[0]).toMatch(/ ok opset 13 output \['N', 2\]$/);
    expect(report[1]).toMatch(/ ok opset 13 output \['N', 'outH', 'outW', 1280\]$/);
    keras.dispose();
  });

  it('every other supported path (same/dilated/depthwise convs, paddings, pools, BatchNorm on 4-D and 2-D, Dense on 4-D, activations) matches tfjs; the file passes the checker', async () => {
    const model = kerasZoo();
    randomizeBatchNorm(model);
    for (const d of await parity(model, 'keras-zoo', [29, 32], 3)) expect(d).toBeLessThanOrEqual(tolerance);
    const fixed = flattenDense();
    for (const d of await parity(fixed, 'flatten-dense', [[9, 7]], 3)) expect(d).toBeLessThanOrEqual(tolerance);
    const report = onnxCheck(['keras-zoo', 'flatten-dense']);
    expect(report[0]).toMatch(/ ok opset 13 output \['N', 3\]$/);
    expect(report[1]).toMatch(/ ok opset 13 output \['N', 3\]$/);
    model.dispose();
    fixed.dispose();
  });

  it('writes NHWC input `input` with symbolic N, H, W, opset 13, IR 8, folded weights, metadata and doc string', async () => {
    const { model } = await createVisionModel('resnet18', 4, { pretrained: false });
    const bytes = await toOnnx(model, { metadata: { vocab: '["a","b","c","d"]', normalize: 'imagenet' }, docString: 'a test model' });
    const proto = onnx.ModelProto.decode(bytes);
    expect(Number(proto.irVersion)).toBe(8);
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    expect(proto.producerName).toBe('fastvision');
    expect(proto.docString).toBe('a test model');
    expect(proto.metadataProps.map((p) => [p.key, p.value])).toEqual([['vocab', '["a","b","c","d"]'], ['normalize', 'imagenet']]);
    const graph = proto.graph!;
    const dims = (v: ValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(graph.input!.map((v) => [v.name, v.type!.tensorType!.elemType, dims(v)])).toEqual([['input', 1, ['N', 'H', 'W', 3]]]);
    expect(graph.output!.map((v) => [v.name, dims(v)])).toEqual([['output', ['N', 4]]]);
    const ops = graph.node!.map((n) => n.opType);
    expect(ops[0]).toBe('Transpose');
    // Every BatchNorm after a conv and every padding before one is folded: 20 convs, no
    // BatchNorm of the body left; the padding before the max pool is an explicit Pad.
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(20);
    expect(ops.filter((o) => o === 'Pad')).toHaveLength(1);
    expect(ops.filter((o) => o === 'Mul')).toHaveLength(2); // the head's two BatchNorms
    expect(ops).not.toContain('BatchNormalization');
    expect(graph.initializer!.every((t) => t.dataType === 1 || t.dataType === 7)).toBe(true);
    model.dispose();
  });

  it('a layer it cannot write is a BAD_OPTION error naming the layer, its class and what is supported', async () => {
    const x = tf.input({ shape: [8, 8, 3] });
    const up = tf.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2, name: 'upsample' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: up });
    const error = await toOnnx(model).then(
      () => undefined,
      (e: unknown) => e as FastvisionError,
    );
    expect(error).toBeInstanceOf(FastvisionError);
    expect(error!.code).toBe('BAD_OPTION');
    expect(error!.message).toMatch(/^fastvision: toOnnx cannot export layer 'upsample' \(Conv2DTranspose\): its class is not supported; the ONNX export supports InputLayer, Conv2D, DepthwiseConv2D, BatchNormalization/);
    const seq = tf.input({ shape: [5, 4] });
    const lstm = tf.model({ inputs: seq, outputs: tf.layers.lstm({ units: 2, name: 'memory' }).apply(seq) as tf.SymbolicTensor });
    await expect(toOnnx(lstm)).rejects.toThrow(/layer 'memory' \(LSTM\): its class is not supported/);
    const img = tf.input({ shape: [8, 8, 3] });
    const gelu = tf.model({ inputs: img, outputs: tf.layers.activation({ activation: 'gelu', name: 'smooth' }).apply(img) as tf.SymbolicTensor });
    await expect(toOnnx(gelu)).rejects.toThrow(/layer 'smooth' \(Activation\): activation 'gelu' \(supported: linear, relu, relu6/);
    const twice = tf.input({ shape: [8, 8, 3] });
    const shared = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'shared' });
    const reused = tf.model({ inputs: twice, outputs: shared.apply(shared.apply(twice)) as tf.SymbolicTensor });
    await expect(toOnnx(reused)).rejects.toThrow(/layer 'shared' \(Conv2D\): it is called more than once in the model/);
    for (const m of [model, lstm, gelu, reused]) m.dispose();
  });
});
