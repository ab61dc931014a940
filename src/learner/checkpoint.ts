import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../core/atomicWrite.js';
import { parseSafetensors, safetensorsMetadata, serializeSafetensors } from '../vision/safetensors.js';
import type { Learner } from './learner.js';

/**
 * Saves the model's weights and the optimizer's state (moments, steps, hypers) to one
 * safetensors file, for resuming training: fastai's `learn.save(name, with_opt=True)`.
 */
export async function saveCheckpoint(learn: Learner, file: string): Promise<string> {
  const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
  learn.model.weights.forEach((w, i) => {
    tensors[`model.${i}`] = { shape: w.shape as number[], values: w.read().dataSync() as Float32Array };
  });
  const snap = learn.opt.snapshot();
  const steps: Record<string, number> = {};
  learn.opt.groups.forEach((g, gi) =>
    g.params.forEach((p, pi) => {
      const s = snap.state.get(p);
      if (!s) return;
      tensors[`opt.${gi}.${pi}.grad_avg`] = { shape: s.gradAvg.shape, values: s.gradAvg.dataSync() as Float32Array };
      tensors[`opt.${gi}.${pi}.sqr_avg`] = { shape: s.sqrAvg.shape, values: s.sqrAvg.dataSync() as Float32Array };
      steps[`${gi}.${pi}`] = s.step;
    }),
  );
  for (const s of snap.state.values()) tf.dispose([s.gradAvg, s.sqrAvg]);
  const metadata = { format: 'fastvision-checkpoint', hypers: JSON.stringify(snap.hypers), steps: JSON.stringify(steps), weights: String(learn.model.weights.length) };
  await writeFileAtomic(file, serializeSafetensors(tensors, metadata));
  return file;
}

/** Loads a checkpoint written by {@link saveCheckpoint} into the learner (same architecture). */
export async function loadCheckpoint(learn: Learner, file: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new Error(`fastvision: cannot read checkpoint '${file}': ${(err as Error).message}`, { cause: err });
  }
  const tensors = parseSafetensors(bytes, file);
  const meta = safetensorsMetadata(bytes);
  if (meta.format !== 'fastvision-checkpoint' || Number(meta.weights) !== learn.model.weights.length) {
    throw new Error(`fastvision: '${file}' is not a checkpoint of this model (${meta.weights ?? '?'} weights, the model has ${learn.model.weights.length})`);
  }
  learn.model.weights.forEach((w, i) => {
    const t = tensors.get(`model.${i}`);
    if (!t || !tf.util.arraysEqual(t.shape, w.shape as number[])) throw new Error(`fastvision: '${file}' does not fit weight ${i} (${w.name}) of this model`);
    tf.tidy(() => {
      w.write(tf.tensor(t.values, t.shape));
    });
  });
  const steps = JSON.parse(meta.steps ?? '{}') as Record<string, number>;
  const state = new Map<tf.Variable, { gradAvg: tf.Tensor; sqrAvg: tf.Tensor; step: number }>();
  learn.opt.groups.forEach((g, gi) =>
    g.params.forEach((p, pi) => {
      const a = tensors.get(`opt.${gi}.${pi}.grad_avg`);
      const b = tensors.get(`opt.${gi}.${pi}.sqr_avg`);
      if (a && b) state.set(p, { gradAvg: tf.tensor(a.values, a.shape), sqrAvg: tf.tensor(b.values, b.shape), step: steps[`${gi}.${pi}`] ?? 0 });
    }),
  );
  learn.opt.restore({ hypers: JSON.parse(meta.hypers ?? '[]'), state });
}
