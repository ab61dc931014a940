import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { version } from '../version.js';
import type { InferenceConfig } from './inference.js';
import { Learner } from './learner.js';
import { ensureBackend } from '../engine/backend.js';

/** The `fastvision.json` of an export. */
export interface ExportMeta extends InferenceConfig {
  /** Always `'fastvision-export'`. */
  format: 'fastvision-export';
  /** Bumped if the layout ever changes. */
  formatVersion: 1;
  /** The fastvision version that wrote it. */
  library: string;
  /** The architecture's name, or null for a custom model. */
  arch: string | null;
}

/** Writes a learner's model and metadata into `dir`, replacing it atomically; returns `dir`. */
export async function exportLearner(learn: Learner, dir: string): Promise<string> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    await learn.model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weights = artifacts.weightData instanceof ArrayBuffer ? [artifacts.weightData] : (artifacts.weightData as ArrayBuffer[] | undefined) ?? [];
        const modelJson = {
          format: 'layers-model',
          generatedBy: `fastvision ${version}`,
          convertedBy: null,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        };
        await writeFile(join(tmp, 'model.json'), JSON.stringify(modelJson));
        await writeFile(join(tmp, 'weights.bin'), Buffer.concat(weights.map((w) => Buffer.from(w))));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const meta: ExportMeta = { format: 'fastvision-export', formatVersion: 1, library: version, arch: learn.arch ?? null, ...learn.inferenceConfig };
    await writeFile(join(tmp, 'fastvision.json'), `${JSON.stringify(meta, null, 2)}\n`);
    const old = `${dir}.old-${process.pid}-${Date.now()}`;
    const exists = await stat(dir).then(() => true, () => false);
    if (exists) await rename(dir, old);
    await rename(tmp, dir);
    if (exists) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error(`fastvision: cannot export to '${dir}': ${(err as Error).message}`, { cause: err });
  }
  return dir;
}

/**
 * A learner from an export directory, ready to `predict` and `getPreds` without the
 * training data (fastai's `load_learner`). Only JSON and raw float32 weights are
 * read; nothing in an export is executed, so exports from others are safe to load.
 *
 * @param dir - A directory written by `learn.export()` (or `fastvision train`).
 *
 * @example
 * ```ts
 * const learn = await loadLearner('models/metal-rap');
 * const { label, probs } = await learn.predict('cover.jpg');
 * ```
 */
export async function loadLearner(dir: string): Promise<Learner> {
  await ensureBackend();
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name));
    } catch {
      throw new Error(`fastvision: '${dir}' is not a fastvision export: ${name} is missing`);
    }
  };
  let meta: ExportMeta;
  let modelJson: { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    meta = JSON.parse((await read('fastvision.json')).toString('utf8')) as ExportMeta;
    modelJson = JSON.parse((await read('model.json')).toString('utf8'));
  } catch (err) {
    if ((err as Error).message.includes('is not a fastvision export')) throw err;
    throw new Error(`fastvision: '${dir}' has a corrupt export: ${(err as Error).message}`, { cause: err });
  }
  if (meta.format !== 'fastvision-export' || !Array.isArray(meta.vocab) || !meta.resize) {
    throw new Error(`fastvision: '${dir}/fastvision.json' is not fastvision export metadata`);
  }
  const weights = await read('weights.bin');
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (weights.byteLength !== expected) {
    throw new Error(`fastvision: '${dir}/weights.bin' has ${weights.byteLength} bytes; model.json describes ${expected}`);
  }
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData }));
  const units = model.outputs[0]!.shape.at(-1);
  if (units !== meta.vocab.length) {
    throw new Error(`fastvision: '${dir}' is mismatched: the model has ${units} outputs but the vocab has ${meta.vocab.length} classes`);
  }
  const { vocab, multiLabel, resize, normalize } = meta;
  return new Learner(undefined, model, { inference: { vocab, multiLabel, resize, normalize }, ...(meta.arch ? { arch: meta.arch } : {}) });
}
