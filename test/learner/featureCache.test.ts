import { existsSync, readdirSync } from 'node:fs';
import * as tf from '../../src/core/tf.js';
import seedrandom from 'seedrandom';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DataLoaders, initBackend } from '../../src/index.js';
import { BnFreeze } from '../../src/learner/bnFreeze.js';
import { Callback } from '../../src/learner/callback.js';
import { FeatureStore } from '../../src/learner/featureStore.js';
import { splitAtHead } from '../../src/learner/headSplit.js';
import type { Learner, LearnerOptions } from '../../src/learner/learner.js';
import { accuracy } from '../../src/learner/metrics.js';
import { visionLearner } from '../../src/learner/visionLearner.js';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';
import { sessionStats } from '../../src/engine/ort/ortInference.js';

let data: Awaited<ReturnType<typeof writePatterns>>;
let initial: tf.Tensor[] | undefined;

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  data = await writePatterns(44);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A frozen resnet18 learner (random init, fastai's head with dropout) on 44 striped or
 * dotted images. Every call starts from the same weights and the same shuffling, and
 * Math.random (which seeds tfjs's dropout) replays the same stream.
 */
async function frozenLearner(opts: LearnerOptions): Promise<Learner> {
  const dls = await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 32, bs: 8, seed: 5 });
  const learn = await visionLearner(dls, 'resnet18', { pretrained: false, metrics: [accuracy], logger: () => {}, ...opts });
  if (!initial) initial = learn.model.weights.map((w) => tf.clone(w.read()));
  else learn.model.setWeights(initial);
  learn.freeze();
  vi.spyOn(Math, 'random').mockImplementation(seedrandom('dropout'));
  return learn;
}

const readAll = (learn: Learner) => learn.model.weights.map((w) => w.read().dataSync() as Float32Array);

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, k) => {
    const y = b[k]!;
    let scale = 1e-12;
    let diff = 0;
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(y[i]!));
      diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    }
    worst = Math.max(worst, diff / scale);
  });
  return worst;
}

function dispose(learn: Learner): void {
  learn.model.dispose();
  learn.opt.dispose();
}

describe('cached frozen features', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('give the same weights, losses and metrics as running the whole model (to 1e-5), and skip the body after the first epoch', async () => {
    // Bit for bit needs the features tfjs training computes: inference on tfjs (ONNX Runtime's differ by rounding; next test).
    vi.stubEnv('FASTVISION_INFERENCE', 'tfjs');
    const opts: LearnerOptions = { trainBn: false, cbs: [new BnFreeze()] };
    const plain = await frozenLearner({ ...opts, featureCache: false });
    const before = readAll(plain);
    await plain.fitOneCycle(2, 1e-2);
    const expected = readAll(plain);
    const expectedValues = plain.recorder.values.map((r) => [...r]);
    expect(plain.featureCache).toBeUndefined();
    dispose(plain);

    const cached = await frozenLearner(opts);
    const loads = vi.spyOn(cached.dls.train.dataset, 'load');
    const tensors: number[] = [];
    await cached.fitOneCycle(2, 1e-2, { cbs: [new (class extends Callback {
      override afterEpoch() {
        tensors.push(tf.memory().numTensors);
      }
    })()] });
    const actual = readAll(cached);
    expect(maxRelDiff(actual, expected)).toBeLessThanOrEqual(1e-5);
    // The head did train, and the body (weights and running statistics) did not move.
    const headStart = cached.model.weights.findIndex((w) => w.name.startsWith('head_'));
    expect(maxRelDiff(actual.slice(headStart), before.slice(headStart))).toBeGreaterThan(1e-3);
    expect(actual.slice(0, headStart)).toEqual(before.slice(0, headStart));
    cached.recorder.values.forEach((row, e) => row.forEach((v, j) => expect(v).toBeCloseTo(expectedValues[e]![j]!, 5)));
    // Per epoch 32 training items (36, less 4 left out by dropLast) and 8 validation items.
    // Each item went through the decoder and the body once: the first time it was seen.
    const { hits, misses, items } = cached.featureCache!.stats;
    expect(hits + misses).toBe(2 * 40);
    expect(misses).toBe(items);
    expect(misses).toBeGreaterThanOrEqual(40);
    expect(misses).toBeLessThanOrEqual(36 + 8);
    expect(loads).toHaveBeenCalledTimes(misses);
    expect(tensors[1]).toBe(tensors[0]);
    dispose(cached);
  });

  it('computed on ONNX Runtime, train the head to the same weights as the whole model does, up to float rounding', async () => {
    vi.stubEnv('FASTVISION_INFERENCE', 'ort');
    const opts: LearnerOptions = { trainBn: false, cbs: [new BnFreeze()] };
    const plain = await frozenLearner({ ...opts, featureCache: false });
    await plain.fitOneCycle(2, 1e-2);
    const expected = readAll(plain);
    dispose(plain);
    const cached = await frozenLearner(opts);
    const runs = sessionStats.runs;
    await cached.fitOneCycle(2, 1e-2);
    expect(sessionStats.runs, 'the body ran on ONNX Runtime').toBeGreaterThan(runs);
    // BatchNorm folded into the convolutions rounds differently; two epochs amplify it (3e-4 measured on tfjs's own folding).
    expect(maxRelDiff(readAll(cached), expected)).toBeLessThan(2e-3);
    dispose(cached);
  });

  it('recompute after the body changes (unfreeze, fit, freeze)', async () => {
    const learn = await frozenLearner({ trainBn: false, cbs: [new BnFreeze()] });
    await learn.fit(1, 1e-3);
    expect(learn.featureCache!.stats).toMatchObject({ misses: 40, hits: 0 });
    learn.unfreeze();
    await learn.fit(1, 1e-3);
    learn.freeze();
    await learn.fit(1, 1e-3);
    expect(learn.featureCache!.stats).toMatchObject({ misses: 40, hits: 0, items: 40 });
    await learn.fit(1, 1e-3);
    const { hits, misses } = learn.featureCache!.stats;
    expect(hits + misses).toBe(80);
    expect(hits).toBeGreaterThanOrEqual(40 - 4); // at most the 4 items epoch 1 left out are new
    dispose(learn);
  });

  it('turn themselves off with one notice when BatchNorm in the frozen body trains (fastai’s default)', async () => {
    const lines: string[] = [];
    const learn = await frozenLearner({ logger: (l) => lines.push(l) });
    await learn.fit(1, 1e-3);
    await learn.fit(1, 1e-3);
    const notices = lines.filter((l) => l.startsWith('fastvision: not caching'));
    expect(notices).toEqual([
      "fastvision: not caching body features: the frozen body's BatchNorm weights train (trainBn: true). With { trainBn: false, cbs: [new BnFreeze()] } a frozen fit trains only the head, on features computed once (featureCache: false hides this).",
    ]);
    expect(learn.featureCache!.stats.items).toBe(0);
    learn.unfreeze();
    await learn.fit(1, 1e-3); // an unfrozen body is not a candidate: no notice
    expect(lines.filter((l) => l.startsWith('fastvision: not caching'))).toHaveLength(1);
    dispose(learn);

    const noBnFreeze = await frozenLearner({ trainBn: false, logger: (l) => lines.push(l) });
    await noBnFreeze.fit(1, 1e-3);
    expect(lines.at(-3)).toMatch(/BatchNorm uses batch statistics \(no BnFreeze callback\)/);
    dispose(noBnFreeze);
  });
});

describe('FeatureStore', () => {
  it('keeps items within the memory budget and spills the rest to files it removes when cleared', () => {
    const store = new FeatureStore({ memoryBytes: 16 });
    const a = new Float32Array([1, 2, 3, 4]);
    const b = new Float32Array([5, 6, 7, 8]);
    store.set('a', a);
    store.set('b', b);
    expect(store.memoryBytes).toBe(16);
    expect(store.spilled).toBe(1);
    const out = new Float32Array(8);
    store.readInto('a', out, 0);
    store.readInto('b', out, 4);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const dir = (store as unknown as { dir: string }).dir;
    expect(readdirSync(dir)).toEqual(['0.f32']);
    store.clear();
    expect(existsSync(dir)).toBe(false);
    expect(store.has('a')).toBe(false);
  });

  it('with dir: false, counts what it could not keep', () => {
    const store = new FeatureStore({ memoryBytes: 0, dir: false });
    store.set('a', new Float32Array(2));
    expect(store.dropped).toBe(1);
    expect(store.has('a')).toBe(false);
    expect(() => store.readInto('a', new Float32Array(2), 0)).toThrow(/no cached features for 'a'/);
  });

  it('writes to a directory it is given', () => {
    const dir = tempDir('fastvision-features-test-');
    const store = new FeatureStore({ memoryBytes: 0, dir });
    store.set('x', new Float32Array([3]));
    expect(readdirSync(dir)).toEqual(['0.f32']);
  });
});

describe('splitAtHead', () => {
  const build = (bodyDropout: boolean, twoCuts: boolean) => {
    const input = tf.input({ shape: [6, 6, 3] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv' }).apply(input) as tf.SymbolicTensor;
    if (bodyDropout) x = tf.layers.dropout({ rate: 0.5, name: 'body_drop' }).apply(x) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({ name: 'head_pool' }).apply(x) as tf.SymbolicTensor;
    const head: tf.layers.Layer[] = [pooled.sourceLayer as tf.layers.Layer];
    let features = pooled;
    if (twoCuts) {
      const maxed = tf.layers.globalMaxPooling2d({ name: 'head_max' }).apply(input) as tf.SymbolicTensor;
      features = tf.layers.concatenate({ name: 'head_cat' }).apply([pooled, maxed]) as tf.SymbolicTensor;
      head.push(maxed.sourceLayer as tf.layers.Layer, features.sourceLayer as tf.layers.Layer);
    }
    const dense = tf.layers.dense({ units: 2, name: 'head_fc' });
    const model = tf.model({ inputs: input, outputs: dense.apply(features) as tf.SymbolicTensor });
    return { model, head: [...head, dense] };
  };

  it('cuts where the head begins: head(body(x)) is model(x), with shared weights', () => {
    const { model, head } = build(false, false);
    const split = splitAtHead(model, head);
    if (typeof split === 'string') throw new Error(split);
    const x = tf.randomUniform([2, 6, 6, 3]);
    const [whole, parts] = tf.tidy(() => [model.predict(x) as tf.Tensor, split.head.predict(split.body.predict(x) as tf.Tensor) as tf.Tensor]);
    expect(Array.from(parts!.dataSync())).toEqual(Array.from(whole!.dataSync()));
    expect(split.head.getLayer('head_fc')).toBe(model.getLayer('head_fc'));
    tf.dispose([x, whole!, parts!]);
  });

  it('says why it cannot: a random layer in the body, or a head that reads two body tensors', () => {
    const two = build(false, true);
    expect(splitAtHead(two.model, two.head)).toBe('the head reads 2 tensors of the body, not one');
    const dropped = build(true, false);
    expect(splitAtHead(dropped.model, dropped.head)).toBe("layer 'body_drop' (Dropout) before the last layer group is random in training");
  });
});
