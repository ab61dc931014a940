import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/core/tf.js';
import { DataLoaders, initBackend, loadLearner, visionLearner, type ArchName, type Learner, type VisionLearnerOptions } from '../../src/index.js';
import { loadSafetensors, parseSafetensors, safetensorsMetadata, serializeSafetensors, type TensorToWrite } from '../../src/vision/safetensors.js';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';

// PyTorch is Debian's python3-torch for /usr/bin/python3 (.ci/run installs it). The
// Python side builds fastai's module tree from torchvision and the layout fastai's
// vision_learner produces (see fastai_roundtrip.py), without fastai itself.
const python = '/usr/bin/python3';
const script = join(import.meta.dirname, 'fastai_roundtrip.py');
const dir = tempDir('fastvision-fastai-');
const cases: [string, ArchName, VisionLearnerOptions][] = [
  ['resnet18', 'resnet18', {}],
  ['resnet34', 'resnet34', {}],
  ['resnet50', 'resnet50', {}],
  ['mobilenetV2', 'mobilenetV2', {}],
  ['resnet18-head', 'resnet18', { linFtrs: [256, 128], concatPool: false }],
];

let data: { dir: string; rows: { fn: string; label: string }[] };
const results = new Map<string, { loaded: Float32Array; probs: Float32Array; trained: Float32Array; torch?: { fastai: Float32Array; fastvision: Float32Array }; exported: Float32Array }>();

function runPython(mode: string): void {
  const run = spawnSync(python, [script, mode, dir], { encoding: 'utf8', cwd: import.meta.dirname });
  if (run.status !== 0) throw new Error(`the PyTorch side failed (apt-get install python3-torch python3-torchvision):\n${run.stderr}`);
}

const dls = () => DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 32, bs: 8, seed: 1, validPct: 0.25 });
const learner = async (arch: ArchName, opts: VisionLearnerOptions = {}) => visionLearner(await dls(), arch, { pretrained: false, logger: () => {}, progress: false, ...opts });
const weightsOf = (learn: Learner) => learn.model.getWeights().map((w) => (w.dataSync() as Float32Array).slice());
const logitsOf = (learn: Learner, x: tf.Tensor) => tf.tidy(() => (learn.model.predict(x) as tf.Tensor).dataSync() as Float32Array);

/** Worst absolute difference relative to the reference's largest magnitude (at least 1). */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst / scale;
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  data = await writePatterns(16, 3);
  runPython('write');
  // fastai → fastvision: load each fastai state dict, predict, fine-tune, save for PyTorch, export.
  for (const [name, arch, opts] of cases) {
    const learn = await learner(arch, opts);
    const tensors = tf.memory().numTensors;
    const skipped = await learn.load(join(dir, `${name}.fastai.safetensors`));
    expect(skipped).toEqual({ missingKeys: [], unexpectedKeys: [], sizeMismatches: [] });
    const batch = await learn.dls.valid.oneBatch();
    const nchw = tf.tidy(() => tf.transpose(batch.x, [0, 3, 1, 2]));
    writeFileSync(join(dir, `${name}.input.safetensors`), serializeSafetensors({ input: { shape: nchw.shape, values: nchw.dataSync() as Float32Array } }));
    const loaded = logitsOf(learn, batch.x);
    const { preds } = await learn.getPreds();
    const probs = preds.dataSync() as Float32Array;
    preds.dispose();
    // learn.predict on the image file of the batch's first item: the same probabilities.
    const one = await learn.predict(learn.dls.valid.dataset.items[batch.indices[0]!]!.file);
    expect(relativeError(one.probs, probs.slice(0, 2))).toBeLessThan(1e-6);
    await learn.fitOneCycle(1, 1e-3);
    const trained = logitsOf(learn, batch.x);
    copyFileSync(await learn.save(name, { format: 'torch' }), join(dir, `${name}.fastvision.safetensors`));
    const exportDir = join(dir, `${name}.export`);
    await learn.export(exportDir);
    const reloaded = await loadLearner(exportDir, { progress: false });
    const exported = logitsOf(reloaded, batch.x);
    // …and, given data, fine-tunes like any loaded learner.
    reloaded.dls = await dls();
    await reloaded.fitOneCycle(1, 1e-3);
    const refit = logitsOf(reloaded, batch.x);
    expect(relativeError(refit, exported)).toBeGreaterThan(1e-4);
    expect(refit.every(Number.isFinite)).toBe(true);
    reloaded.opt.dispose();
    tf.dispose([batch.x, batch.y, nchw]);
    reloaded.model.dispose();
    learn.opt.dispose();
    learn.model.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensors);
    results.set(name, { loaded, probs, trained, exported });
  }
  runPython('check');
  for (const [name] of cases) {
    const t = await loadSafetensors(join(dir, `${name}.torch.safetensors`));
    results.get(name)!.torch = { fastai: t.get('fastai')!.values, fastvision: t.get('fastvision')!.values };
  }
}, 600_000);

describe('fastai ↔ fastvision: learn.save(…, { format: "torch" }) and learn.load(fastai state dict)', () => {
  it.each(cases.map(([name]) => name))('%s: fastai’s weights give PyTorch’s logits, and fastvision’s saved weights load into fastai’s model strictly and give fastvision’s', (name) => {
    const r = results.get(name)!;
    const torch = r.torch!;
    console.log(`${name}: fastai → fastvision ${relativeError(r.loaded, torch.fastai).toExponential(2)}, fastvision → PyTorch ${relativeError(r.trained, torch.fastvision).toExponential(2)}`);
    // PyTorch → fastvision (eval mode: random BatchNorm statistics, every buffer in the file).
    expect(relativeError(r.loaded, torch.fastai)).toBeLessThan(1e-4);
    // getPreds (and learn.predict, checked equal to it above): softmax of the same logits.
    const softmax = tf.tidy(() => tf.softmax(tf.tensor2d(torch.fastai, [torch.fastai.length / 2, 2])).dataSync());
    expect(relativeError(r.probs, softmax)).toBeLessThan(1e-4);
    // fastvision → PyTorch: after a fine-tuning epoch, PyTorch (load_state_dict strict=True) computes fastvision's logits.
    expect(relativeError(r.trained, torch.fastvision)).toBeLessThan(1e-4);
    expect(relativeError(r.trained, r.loaded)).toBeGreaterThan(1e-3); // the epoch changed the model
    // The export of a learner built from fastai weights predicts as it did.
    expect(relativeError(r.exported, r.trained)).toBeLessThan(1e-5);
  });

  it('the file fastvision writes is fastai’s layout, with int64 counters and metadata', () => {
    const bytes = readFileSync(join(dir, 'resnet18-head.fastvision.safetensors'));
    const tensors = parseSafetensors(bytes, 'x');
    const meta = safetensorsMetadata(bytes);
    const fastai = parseSafetensors(readFileSync(join(dir, 'resnet18-head.fastai.safetensors')), 'y');
    expect([...tensors.keys()].sort()).toEqual([...fastai.keys()].sort());
    expect(tensors.get('0.1.num_batches_tracked')!.dtype).toBe('I64');
    expect(tensors.get('1.12.weight')!.shape).toEqual([2, 128]);
    expect(meta.arch).toBe('resnet18');
    expect(JSON.parse(meta.vocab!)).toEqual(['dotted', 'striped']);
    expect(JSON.parse(meta.head!)).toMatchObject({ lin_ftrs: [256, 128], n_out: 2, concat_pool: false, first_bn: true, bn_final: false });
  });
});

describe('bad files leave the learner unchanged', () => {
  let learn: Learner;
  let before: Float32Array[];
  let good: Map<string, { shape: number[]; dtype: string; bytes: Uint8Array }>;
  const fastaiFile = () => join(dir, 'resnet18.fastai.safetensors');

  /** The fastai resnet18 file with some tensors replaced or renamed, written to `name`. */
  function variant(name: string, edit: (t: Record<string, TensorToWrite>) => void, metadata: Record<string, string> = { vocab: '["dotted","striped"]' }): string {
    const t: Record<string, TensorToWrite> = {};
    for (const [k, v] of good) t[k] = { shape: v.shape, dtype: v.dtype as never, bytes: v.bytes };
    edit(t);
    const file = join(dir, `${name}.safetensors`);
    writeFileSync(file, serializeSafetensors(t, metadata));
    return file;
  }

  beforeAll(async () => {
    learn = await learner('resnet18');
    before = weightsOf(learn);
    headKernel = kernelOf('head_linear1').slice();
    const bytes = readFileSync(fastaiFile());
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    const start = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    good = new Map(Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, h]) => [k, { shape: h.shape, dtype: h.dtype, bytes: bytes.subarray(start + h.data_offsets[0], start + h.data_offsets[1]) }]));
  });
  afterAll(() => {
    learn.opt.dispose();
    learn.model.dispose();
  });
  // Bit-identical, compared as bytes (a deep equal of 11M floats takes seconds).
  const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const unchanged = () => expect(weightsOf(learn).map((w, i) => same(w, before[i]!))).not.toContain(false);
  const kernelOf = (layer: string) => learn.model.getLayer(layer).getWeights()[0]!.dataSync() as Float32Array;
  let headKernel: Float32Array;
  const restore = () => {
    const values = before.map((w, i) => tf.tensor(w, learn.model.weights[i]!.shape as number[]));
    learn.model.setWeights(values);
    tf.dispose(values);
  };

  it('wrong arch: a resnet34 state dict into a resnet18 learner lists the keys, as PyTorch does', async () => {
    await expect(learn.load(join(dir, 'resnet34.fastai.safetensors'))).rejects.toThrow(/Unexpected key\(s\) in state_dict: "0\.4\.2\.conv1\.weight"/);
    unchanged();
    // With the arch in its metadata (as fastvision writes it, or a user's save_file(…, metadata=…)): said first.
    await expect(learn.load(variant('arch', () => {}, { arch: 'resnet34' }))).rejects.toThrow('holds a resnet34; this learner is a resnet18');
    unchanged();
  });

  it('wrong class count: says how many the file has and how many the learner has', async () => {
    const file = variant('classes3', (t) => {
      t['1.8.weight'] = { shape: [3, 512], values: new Float32Array(3 * 512) };
    });
    await expect(learn.load(file)).rejects.toThrow("has 3 classes (1.8.weight is [3, 512]); this learner has 2");
    unchanged();
    // Non-strict: every other weight, the last layer kept (fine-tuning on new classes).
    const skipped = await learn.load(file, { strict: false });
    expect(skipped.sizeMismatches).toEqual(['1.8.weight: copying a param with shape [3, 512] from checkpoint, the shape in current model is [2, 512]']);
    expect(same(kernelOf('head_linear1'), headKernel)).toBe(true);
    expect(same(kernelOf('conv1'), before[0]!)).toBe(false);
    restore();
  });

  it('a truncated file', async () => {
    const file = join(dir, 'truncated.safetensors');
    writeFileSync(file, readFileSync(fastaiFile()).subarray(0, 100_000));
    await expect(learn.load(file)).rejects.toThrow(/truncated\.safetensors.*the learner is unchanged/s);
    unchanged();
  });

  it('a key with the wrong dtype', async () => {
    const intWeight = variant('dtype-weight', (t) => {
      const v = good.get('1.4.weight')!;
      t['1.4.weight'] = { shape: v.shape, dtype: 'I32', bytes: new Uint8Array(v.bytes.byteLength) };
    });
    await expect(learn.load(intWeight)).rejects.toThrow('1.4.weight: I32, expected a floating-point dtype');
    const floatCounter = variant('dtype-counter', (t) => {
      t['0.1.num_batches_tracked'] = { shape: [], values: new Float32Array([3]) };
    });
    await expect(learn.load(floatCounter)).rejects.toThrow('0.1.num_batches_tracked: F32, expected an integer (I64 in PyTorch)');
    unchanged();
  });

  it('classes in another order are refused unless strict is off', async () => {
    const file = variant('vocab', () => {}, { vocab: '["striped","dotted"]' });
    await expect(learn.load(file)).rejects.toThrow('was trained on the classes [striped, dotted] and this learner predicts [dotted, striped]');
    unchanged();
  });

  it('a plain torchvision body: strict says what it is; strict: false takes the body and keeps the head', async () => {
    const toTorchvision: [RegExp, string][] = [[/^0\.0\./, 'conv1.'], [/^0\.1\./, 'bn1.'], [/^0\.4\./, 'layer1.'], [/^0\.5\./, 'layer2.'], [/^0\.6\./, 'layer3.'], [/^0\.7\./, 'layer4.']];
    const file = variant('torchvision', (t) => {
      for (const key of Object.keys(t)) {
        const rule = toTorchvision.find(([re]) => re.test(key));
        const v = t[key]!;
        delete t[key];
        if (rule) t[key.replace(rule[0], rule[1])] = v;
      }
      t['fc.weight'] = { shape: [1000, 512], values: new Float32Array(512_000) };
      t['fc.bias'] = { shape: [1000], values: new Float32Array(1000) };
    }, {});
    await expect(learn.load(file)).rejects.toThrow(/Unexpected key\(s\) in state_dict: "fc\.weight", "fc\.bias"[\s\S]*plain torchvision model: the body only/);
    unchanged();
    const skipped = await learn.load(file, { strict: false });
    expect(skipped.unexpectedKeys).toEqual(['fc.weight', 'fc.bias']);
    expect(skipped.missingKeys).toEqual([]);
    const fromFile = tf.tidy(() => tf.transpose(tf.tensor(new Float32Array(new Uint8Array(good.get('0.0.weight')!.bytes).buffer), [64, 3, 7, 7]), [2, 3, 1, 0]).dataSync() as Float32Array);
    expect(same(kernelOf('conv1'), fromFile)).toBe(true);
    expect(same(kernelOf('head_linear1'), headKernel)).toBe(true);
    restore();
  });

  it('format "torch" needs fastai’s body: a custom cut or withOpt is refused, nothing written', async () => {
    const cut = await learner('resnet18', { cut: 'layer3_1_relu2' });
    await expect(cut.save('cut', { format: 'torch' })).rejects.toThrow("body is cut before 'layer4_1_relu2', where fastai cuts resnet18");
    expect(() => learn.save('x', { format: 'torch', withOpt: true })).toThrow("format 'torch' writes the model only");
    cut.opt.dispose();
    cut.model.dispose();
  });
});
