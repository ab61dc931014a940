import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BnFreeze, DataLoaders, accuracy, fromLayersModel, initBackend, loadLearner, slice, visionLearner, type ArchName } from '../../src/index.js';
import { engineCapabilities } from '../../src/engine/capabilities.js';
import { emulationLog } from '../helpers/native/emulatedBackend.js';
import { installFakeNative } from '../helpers/native/fakePackage.js';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';
import { randomArray } from '../helpers/random.js';

// tfjs-node's JavaScript (from the npm registry, once) runs over an emulated binding
// (test/helpers/native/): what this proves and what it cannot is written there.
let data: Awaited<ReturnType<typeof writePatterns>>;

/**
 * Sizes per net. MobileNetV2 needs 32 px and batches of 8: at 24 px its last stage is
 * 1×1, its BatchNorms normalise 4 values, and float32 noise grows chaotically (two
 * correct backends then disagree by 10% in a gradient).
 */
const settings = {
  resnet18: { images: 24, size: 32, bs: 8, resized: 40 },
  mobilenetV2: { images: 24, size: 32, bs: 8, resized: 40 },
} as const;

// Inference on tfjs too: the contract is every kernel call fastvision makes on tfjs-node,
// and what it makes there when ONNX Runtime is absent or switched off.
const inferenceBefore = process.env.FASTVISION_INFERENCE;
afterAll(() => {
  if (inferenceBefore === undefined) delete process.env.FASTVISION_INFERENCE;
  else process.env.FASTVISION_INFERENCE = inferenceBefore;
});

beforeAll(async () => {
  process.env.FASTVISION_INFERENCE = 'tfjs';
  installFakeNative('@tensorflow/tfjs-node', 'works');
  data = await writePatterns(24);
}, 120_000);

interface Outcome {
  weights: Float32Array[];
  preds: Float32Array;
  tta: Float32Array;
  predicted: number[];
}

async function workflow(arch: ArchName, backend: 'wasm' | 'node', start?: tf.Tensor[]): Promise<{ outcome: Outcome; initial: tf.Tensor[] }> {
  await initBackend({ backend });
  const { images, size, bs, resized } = settings[arch as keyof typeof settings];
  const dls = await DataLoaders.fromDataFrame(data.rows.slice(0, images), { path: data.dir, size, bs, seed: 3, validPct: 1 / 3 });
  const learn = await visionLearner(dls, arch, { pretrained: false, ps: 0, trainBn: false, cbs: [new BnFreeze()], metrics: [accuracy], logger: () => {} });
  learn.model.setWeights(start ?? seededWeights(learn.model));
  const initial = learn.model.getWeights().map((w) => tf.keep(w.clone()));
  learn.freeze();
  await learn.fitOneCycle(1, 1e-3);
  learn.unfreeze();
  await learn.fitOneCycle(1, slice(1e-5, 1e-4));
  learn.dls = await dls.withSize(resized);
  await learn.fitOneCycle(1, slice(1e-5, 1e-4));
  const { preds, targs } = await learn.getPreds();
  const t = await learn.tta();
  const dir = join(tempDir('fastvision-native-export-'), 'model');
  await learn.export(dir);
  const loaded = await loadLearner(dir);
  const predicted = (await loaded.predict(join(data.dir, data.rows[0]!.fn))).probs;
  const outcome = {
    weights: learn.model.weights.map((w) => w.read().dataSync() as Float32Array),
    preds: preds.dataSync() as Float32Array,
    tta: t.preds.dataSync() as Float32Array,
    predicted,
  };
  tf.dispose([preds, targs, t.preds, t.targs]);
  learn.model.dispose();
  loaded.model.dispose();
  return { outcome, initial };
}

/**
 * The same starting weights on every run: each randomly initialised tensor redrawn
 * from a seeded uniform with its own scale (constant ones — BatchNorm — kept), so the
 * float32 noise between backends, and the margin to the tolerance, is the same each time.
 */
function seededWeights(model: tf.LayersModel): tf.Tensor[] {
  return model.getWeights().map((w, i) =>
    tf.tidy(() => {
      const values = w.dataSync();
      if (values.every((v) => v === values[0])) return w.clone();
      const scale = Math.sqrt(3) * tf.moments(w).variance.sqrt().dataSync()[0]!;
      return tf.mul(tf.tensor(randomArray(w.size, `contract-${i}`), w.shape), scale);
    }),
  );
}

const worst = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!));
  return w / scale;
};

describe('tfjs-node 4.22’s kernels over an emulated binding', () => {
  it.each(['resnet18', 'mobilenetV2'] as const)('%s: the whole workflow runs with zero refused calls and agrees with wasm', async (arch) => {
    const t0 = performance.now();
    const wasm = await workflow(arch, 'wasm');
    const t1 = performance.now();
    emulationLog.reset();
    const native = await workflow(arch, 'node', wasm.initial);
    tf.dispose(wasm.initial.concat(native.initial));
    const seconds = { wasm: (t1 - t0) / 1000, native: (performance.now() - t1) / 1000 };
    expect(emulationLog.refusals).toEqual([]);
    // Every kernel family ran through tfjs-node's JavaScript and the rules.
    for (const op of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MaxPool', 'MaxPoolGrad']) expect(emulationLog.ops.get(op)).toBeGreaterThan(0);
    if (arch === 'mobilenetV2') for (const op of ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter']) expect(emulationLog.ops.get(op)).toBeGreaterThan(10);
    const diffs = {
      weights: Math.max(...native.outcome.weights.map((w, i) => worst(w, wasm.outcome.weights[i]!))),
      preds: worst(native.outcome.preds, wasm.outcome.preds),
      tta: worst(native.outcome.tta, wasm.outcome.tta),
      predict: worst(native.outcome.predicted, wasm.outcome.predicted),
    };
    console.log(`${arch} on emulated tfjs-node vs wasm:`, JSON.stringify({ diffs, seconds, ops: Object.fromEntries(emulationLog.ops) }));
    // What a user sees (probabilities) agrees to 1e-4. Weights get 1e-3: Adam divides
    // each update by the gradient's own scale, so a weight whose gradient is float32
    // noise (BatchNorm offsets before a BatchNorm) moves by a noise-driven fraction of
    // lr on each backend. Measured here: ~3e-5 (resnet18), ~2e-4 (mobilenetV2).
    for (const d of [diffs.preds, diffs.tta, diffs.predict]) expect(d).toBeLessThanOrEqual(1e-4);
    expect(diffs.weights).toBeLessThanOrEqual(1e-3);
  }, 600_000);
});

describe('the harness catches what tfjs-node refuses', () => {
  async function learner(arch: ArchName) {
    await initBackend({ backend: 'node' });
    const dls = await DataLoaders.fromDataFrame(data.rows.slice(0, 8), { path: data.dir, size: 32, bs: 4, seed: 1, validPct: 0.5 });
    return visionLearner(dls, arch, { pretrained: false, ps: 0, logger: () => {} });
  }

  it('folded padding in training convs and number padding in fused inference (what fastvision sent before)', async () => {
    const caps = engineCapabilities.tensorflow!;
    const saved = { ...caps };
    try {
      const resnet = await learner('resnet18');
      caps.gradientPadding = ['explicit']; // pretend tfjs-node took explicit padding in gradients
      emulationLog.reset();
      await expect(resnet.fit(1)).rejects.toThrow("TF Backend supports only 'valid' and 'same' padding while padding was EXPLICIT");
      expect(emulationLog.refusals.map((r) => r.kernel)).toContain('Conv2DBackpropInput');
      Object.assign(caps, saved, { forwardPadding: ['number', 'explicit'] }); // pretend it took a number
      emulationLog.reset();
      await expect(resnet.getPreds()).rejects.toThrow("TF Backend supports only 'valid' and 'same' padding while padding was NUMBER");
      expect(emulationLog.refusals.map((r) => r.kernel)).toContain('FusedConv2D');
      resnet.model.dispose();

      const mobile = await learner('mobilenetV2');
      Object.assign(caps, saved, { gradientPadding: ['explicit'] });
      emulationLog.reset();
      await expect(mobile.fit(1)).rejects.toThrow(/padding/);
      // tfjs-node's depthwise gradients pass EXPLICIT on without explicit_paddings; TensorFlow refuses it.
      expect(emulationLog.refusals).toContainEqual({
        kernel: 'TensorFlow DepthwiseConv2dNativeBackpropInput',
        message: 'explicit_paddings attribute must contain 8 values, but got: 0',
      });
      mobile.model.dispose();
    } finally {
      Object.assign(caps, saved);
    }
  }, 300_000);
});

/** A small conv body in two layer groups: the loop is what is measured, not the net. */
function tinyBody() {
  const input = tf.input({ shape: [null, null, 3] });
  let x = input as tf.SymbolicTensor;
  for (const [i, filters] of [8, 16].entries()) {
    x = tf.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: `c${i}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: `bn${i}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: `r${i}` }).apply(x) as tf.SymbolicTensor;
  }
  return fromLayersModel(tf.model({ inputs: input, outputs: x }), { cut: 'r1', normalize: { mean: [0, 0, 0], std: [1, 1, 1] }, splitAt: ['c1'] });
}

describe('host reads on a device backend', () => {
  it('a training epoch reads from the backend a fixed number of times, however many batches it has', async () => {
    await initBackend({ backend: 'node' });
    const reads = async (images: number, frozen: boolean) => {
      const dls = await DataLoaders.fromDataFrame(data.rows.slice(0, images), { path: data.dir, size: 16, bs: 4, seed: 1, validPct: 0.25 });
      const learn = await visionLearner(dls, tinyBody(), { ps: 0, trainBn: false, cbs: [new BnFreeze()], metrics: [accuracy], logger: () => {} });
      if (frozen) learn.freeze();
      else learn.unfreeze();
      await learn.fit(1, 1e-4); // the first epoch fills the feature cache
      emulationLog.reset();
      await learn.fit(1, 1e-4);
      const n = emulationLog.hostReads;
      const cached = learn.featureCache!.stats.hits;
      learn.model.dispose();
      learn.featureCache!.clear();
      return { batches: dls.train.length, n, cached };
    };
    const counts = [await reads(8, false), await reads(16, false), await reads(8, true), await reads(16, true)];
    console.log('host reads per epoch (train + validation) on emulated tfjs-node:', JSON.stringify(counts));
    expect(counts[1]!.batches).toBe(3 * counts[0]!.batches);
    expect(counts[1]!.n).toBe(counts[0]!.n);
    expect(counts[3]!.n).toBe(counts[2]!.n);
    // The frozen fits trained the head on features kept on the device.
    expect([counts[0]!.cached, counts[2]!.cached > 0]).toEqual([0, true]);
    // The epoch's losses, the validation loss, the one metric: three.
    expect(counts[0]!.n).toBe(3);
  }, 300_000);
});
