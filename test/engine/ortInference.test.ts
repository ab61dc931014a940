import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '../../src/core/tf.js';
import { ClassificationInterpretation, DataLoaders, backendInfo, initBackend, loadLearner, visionLearner, type Learner } from '../../src/index.js';
import { sessionStats } from '../../src/engine/ort/ortInference.js';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';

/**
 * ONNX Runtime runs every eval-mode forward pass when it is installed; tfjs stays the
 * training engine. The two engines must give the same answers, and the export's
 * model.onnx must predict what the learner predicts when run by a bare ORT session.
 */
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

describe('inference on ONNX Runtime', () => {
  let learn: Learner;
  let files: string[];

  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    const { dir, rows } = await writePatterns(24, 11);
    files = rows.slice(0, 6).map((r) => join(dir, r.fn));
    const dls = await DataLoaders.fromDataFrame(rows, { path: dir, size: 40, bs: 8, validPct: 0.25, seed: 5 });
    learn = await visionLearner(dls, 'resnet18', { pretrained: false, logger: () => {}, progress: false });
    await learn.fit(1, 1e-3); // BatchNorm statistics away from their defaults
  }, 300_000);

  afterEach(() => vi.unstubAllEnvs());

  /** `fn` with inference on `engine`. */
  async function on<T>(engine: 'ort' | 'tfjs', fn: () => Promise<T>): Promise<T> {
    vi.stubEnv('FASTVISION_INFERENCE', engine);
    try {
      return await fn();
    } finally {
      vi.unstubAllEnvs();
    }
  }

  it('is the default where onnxruntime-node is installed, says so, and FASTVISION_INFERENCE=tfjs switches it off', () => {
    expect(backendInfo().inference).toMatchObject({ engine: 'ort', package: 'onnxruntime-node', threads: expect.any(Number) });
    vi.stubEnv('FASTVISION_INFERENCE', 'tfjs');
    expect(backendInfo().inference).toMatchObject({ engine: 'tfjs', reason: 'forced by FASTVISION_INFERENCE=tfjs' });
    vi.stubEnv('FASTVISION_INFERENCE', 'onnx');
    expect(() => backendInfo()).toThrow(/FASTVISION_INFERENCE is 'onnx'; expected 'ort'/);
    vi.stubEnv('FASTVISION_INFERENCE', '');
    vi.stubEnv('FASTVISION_THREADS', '1');
    expect(backendInfo().inference.threads).toBe(1);
  });

  it('getPreds, predict, tta and the interpretation give the same results on both engines', async () => {
    const before = tf.memory().numTensors;
    const run = async () => {
      const { preds, targs } = await learn.getPreds({ withLoss: false });
      const p = await preds.data();
      tf.dispose([preds, targs]);
      const predictions = await Promise.all(files.map((f) => learn.predict(f)));
      const t = await learn.tta({ n: 2 });
      const tp = await t.preds.data();
      tf.dispose([t.preds, t.targs]);
      const interp = await ClassificationInterpretation.fromLearner(learn, { progress: false });
      const cm = interp.confusionMatrix();
      const losses = [...interp.losses];
      return { p, predictions, tp, cm, losses, valid: await learn.evaluate(learn.dls.valid) };
    };
    const runs = sessionStats.runs;
    const onOrt = await on('ort', run);
    const ortRuns = sessionStats.runs;
    expect(ortRuns, 'ORT ran the batches').toBeGreaterThan(runs + 5);
    const onTfjs = await on('tfjs', run);
    expect(sessionStats.runs, 'tfjs ran the batches').toBe(ortRuns);
    expect(maxDiff(onOrt.p, onTfjs.p)).toBeLessThan(1e-4);
    expect(maxDiff(onOrt.tp, onTfjs.tp)).toBeLessThan(1e-4);
    expect(maxDiff(onOrt.losses, onTfjs.losses)).toBeLessThan(1e-4);
    expect(maxDiff(onOrt.valid, onTfjs.valid)).toBeLessThan(1e-4);
    onOrt.predictions.forEach((p, i) => {
      expect(p.label).toBe(onTfjs.predictions[i]!.label);
      expect(maxDiff(p.probs, onTfjs.predictions[i]!.probs)).toBeLessThan(1e-4);
    });
    expect(onOrt.cm).toEqual(onTfjs.cm);
    expect(tf.memory().numTensors).toBe(before);
  }, 300_000);

  it('builds a session once per weights version: again only after training changed a weight', async () => {
    const dl = learn.dls.valid;
    await on('ort', () => learn.evaluate(dl));
    const builds = sessionStats.builds;
    await on('ort', () => learn.evaluate(dl));
    await on('ort', async () => (await learn.getPreds()).preds.dispose());
    expect(sessionStats.builds).toBe(builds);
    await learn.fit(1, 1e-4);
    await on('ort', () => learn.evaluate(dl));
    expect(sessionStats.builds).toBeGreaterThan(builds);
  }, 300_000);

  it("every export carries model.onnx: valid ONNX (onnx's full checker), and a bare onnxruntime-node session predicts what the learner does", async () => {
    const dir = await learn.export(join(tempDir('fastvision-onnx-export-'), 'model'));
    const meta = JSON.parse(readFileSync(join(dir, 'fastvision.json'), 'utf8'));
    expect(meta.files.onnx).toBe('model.onnx');
    const bytes = readFileSync(join(dir, 'model.onnx'));
    expect(meta.bytes.onnx).toBe(bytes.byteLength);
    const check = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'onnx_check.py'), join(dir, 'model.onnx')], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/ok opset 13/);
    // Outside fastvision's loading code: the file, its own metadata, plain ORT.
    const session = await ort.InferenceSession.create(bytes);
    const described = JSON.parse(readMetadata(bytes) ?? '{}');
    expect(described).toMatchObject({ vocab: learn.dls.vocab, resize: meta.resize, multiLabel: false });
    expect(described.normalize ?? null).toEqual(meta.normalize ?? null);
    const batch = await learn.dls.valid.oneBatch();
    const x = new ort.Tensor('float32', (await batch.x.data()) as Float32Array, batch.x.shape);
    const logits = (await session.run({ input: x })).output!.data as Float32Array;
    const expected = tf.tidy(() => tf.softmax(learn.model.predict(batch.x) as tf.Tensor).dataSync());
    const got = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [batch.indices.length, learn.dls.vocab.length])).dataSync());
    expect(maxDiff(got, expected)).toBeLessThan(1e-4);
    tf.dispose([batch.x, batch.y]);
    await session.release();
    // loadLearner starts from it, and predicts the same.
    const loaded = await loadLearner(dir);
    const [a, b] = await Promise.all([loaded.predict(files[0]!), learn.predict(files[0]!)]);
    expect(maxDiff(a.probs, b.probs)).toBeLessThan(1e-4);
    loaded.model.dispose();
  }, 300_000);
});

/** The `fastvision` metadata entry of an ONNX file, read with onnx-proto (as any ONNX reader would). */
function readMetadata(bytes: Uint8Array): string | undefined {
  return onnxProto.onnx.ModelProto.decode(bytes).metadataProps.find((p) => p.key === 'fastvision')?.value ?? undefined;
}
