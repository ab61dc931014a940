import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * GPU backends in Node (webgpu) cannot read a tensor synchronously: `dataSync`,
 * `arraySync` and `bufferSync` throw there. Every such read left in src/ is on a path
 * that never runs on a GPU backend, and says which; a new one fails this test.
 */
const allowed: Record<string, { count: number; why: string }> = {
  'src/engine/onnx/training/state.ts': { count: 1, why: 'ONNX Runtime training: its self-check runs, and it trains, only where the tfjs backend is on the CPU' },
  'src/engine/ort/ortTrainer.ts': { count: 2, why: 'ONNX Runtime training (as above)' },
  'src/engine/ort/trainSelfCheck.ts': { count: 1, why: 'the ONNX Runtime training self-check, never run on a GPU backend (backend.ts)' },
  'src/engine/tfjs/hostCompute.ts': { count: 1, why: 'the cpu backend only (wasm reads its heap; any other backend is an error there)' },
  'src/learner/featureCache.ts': { count: 1, why: 'hostBatches: only where capabilities().hostMemory (wasm, cpu)' },
  'src/learner/learner.ts': { count: 1, why: 'checkFinite: only where capabilities().hostMemory (wasm, cpu)' },
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('no synchronous tensor reads on the training and inference path', () => {
  it('every dataSync/arraySync/bufferSync in src/ is on a CPU-only path named here, and no other is left', () => {
    const root = join(import.meta.dirname, '../..');
    const found: Record<string, number> = {};
    for (const file of sources(join(root, 'src'))) {
      const n = (readFileSync(file, 'utf8').match(/\.(dataSync|arraySync|bufferSync)\s*\(/g) ?? []).length;
      if (n) found[relative(root, file)] = n;
    }
    const expected = Object.fromEntries(Object.entries(allowed).map(([f, a]) => [f, a.count]));
    expect(found).toEqual(expected);
  });
});

/**
 * The same promise at run time: with `dataSync`/`arraySync`/`bufferSync` throwing (as on
 * webgpu in Node), everything a trained learner does for inference, export and
 * checkpoints runs, on both inference engines.
 */
describe('inference, export and checkpoints without synchronous reads', () => {
  it.each(['tfjs', 'ort'] as const)('getPreds, predict, tta, interpretation, export → loadLearner → predict, save → load (inference on %s)', async (engine) => {
    const { initBackend, DataLoaders, visionLearner, loadLearner, ClassificationInterpretation } = await import('../../src/index.js');
    const { writePatterns } = await import('../helpers/patterns.js');
    const { tempDir } = await import('../helpers/images.js');
    const tf = await import('../../src/core/tf.js');
    await initBackend({ backend: 'wasm' });
    process.env.FASTVISION_INFERENCE = engine;
    const data = await writePatterns(24);
    const learn = await visionLearner(await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 32, bs: 8, seed: 1 }), 'resnet18', { pretrained: false, logger: () => {}, progress: false });
    const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
    const saved = { dataSync: proto.dataSync, arraySync: proto.arraySync, bufferSync: proto.bufferSync };
    for (const name of Object.keys(saved)) {
      proto[name] = function () {
        throw new Error(`${name} called: a synchronous read (it throws on webgpu)`);
      };
    }
    try {
      const preds = await learn.getPreds();
      expect(preds.preds.shape[0]).toBe(learn.dls.valid.n);
      const one = await learn.predict(join(data.dir, data.rows[0]!.fn));
      expect(one.probs).toHaveLength(2);
      const tta = await learn.tta();
      const interp = await ClassificationInterpretation.fromLearner(learn, { progress: false });
      expect(interp.confusionMatrix().flat().reduce((a, b) => a + b, 0)).toBe(learn.dls.valid.n);
      const dir = join(tempDir('fastvision-syncreads-'), 'export');
      await learn.export(dir);
      const loaded = await loadLearner(dir, { progress: false });
      expect((await loaded.predict(join(data.dir, data.rows[0]!.fn))).label).toBe(one.label);
      await learn.save('nosync');
      await learn.save('nosync-torch', { format: 'torch' });
      await learn.load('nosync');
      tf.dispose([preds.preds, preds.targs, tta.preds, tta.targs]);
      loaded.model.dispose();
    } finally {
      Object.assign(proto, saved);
      delete process.env.FASTVISION_INFERENCE;
      learn.model.dispose();
    }
  }, 300_000);
});
