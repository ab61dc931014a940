import * as tf from '../core/tf.js';
import { writeFileAtomic } from '../core/atomicWrite.js';
import { parseSafetensors, safetensorsMetadata, serializeSafetensors } from '../vision/safetensors.js';
import type { Learner } from './learner.js';
import { FastvisionError } from '../core/errors.js';
import { readRegularFile } from '../core/safeRead.js';
import { loadTorchStateDict, pytorchList, type IncompatibleKeys } from './torchStateDict.js';

/**
 * Saves the model's weights (and with `withOpt`, the optimizer's state: moments,
 * steps, hypers) to one safetensors file, atomically, for resuming training:
 * fastai's `learn.save(name, with_opt)`.
 */
export async function saveCheckpoint(learn: Learner, file: string, withOpt = true): Promise<string> {
  const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
  const values = await Promise.all(learn.model.weights.map((w) => w.read().data() as Promise<Float32Array>));
  learn.model.weights.forEach((w, i) => {
    tensors[`model.${i}`] = { shape: w.shape as number[], values: values[i]! };
  });
  const steps: Record<string, number> = {};
  let hypers: unknown[] = [];
  if (withOpt) {
    const snap = learn.opt.snapshot();
    hypers = snap.hypers;
    try {
      for (const [gi, g] of learn.opt.groups.entries())
        for (const [pi, p] of g.params.entries()) {
          const s = snap.state.get(p);
          if (!s) continue;
          const [avg, sqr] = (await Promise.all([s.gradAvg.data(), s.sqrAvg.data()])) as Float32Array[];
          tensors[`opt.${gi}.${pi}.grad_avg`] = { shape: s.gradAvg.shape, values: avg! };
          tensors[`opt.${gi}.${pi}.sqr_avg`] = { shape: s.sqrAvg.shape, values: sqr! };
          steps[`${gi}.${pi}`] = s.step;
        }
    } finally {
      for (const s of snap.state.values()) tf.dispose([s.gradAvg, s.sqrAvg]);
    }
  }
  const metadata = { format: 'fastvision-checkpoint', withOpt: String(withOpt), hypers: JSON.stringify(hypers), steps: JSON.stringify(steps), weights: String(learn.model.weights.length) };
  await writeFileAtomic(file, serializeSafetensors(tensors, metadata));
  return file;
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint} into the learner (same
 * architecture), or a PyTorch state dict (fastai's learner layout, or a plain
 * torchvision/timm body: see `loadTorchStateDict`). Everything is checked first — the
 * file (a regular file of bounded size), its metadata, every tensor's shape, every
 * value finite — and only then are weights written: a bad file leaves the learner as
 * it was. Returns what a non-strict load skipped.
 */
export async function loadCheckpoint(learn: Learner, file: string, opts: { strict?: boolean } = {}): Promise<IncompatibleKeys> {
  const bytes = await readRegularFile(file, { maxBytes: 8 * 1024 ** 3, what: 'checkpoint' });
  let tensors: ReturnType<typeof parseSafetensors>;
  try {
    tensors = parseSafetensors(bytes, file);
  } catch (err) {
    if (err instanceof FastvisionError) err.message += '; the learner is unchanged';
    throw err;
  }
  const meta = safetensorsMetadata(bytes);
  const none: IncompatibleKeys = { missingKeys: [], unexpectedKeys: [], sizeMismatches: [] };
  if (meta.format !== 'fastvision-checkpoint') {
    const skipped = loadTorchStateDict(learn, tensors, meta, file, opts.strict ?? true);
    const list = pytorchList(skipped);
    if (list) learn.logger(`fastvision: loaded '${file}' without:${list}`);
    return skipped;
  }
  const bad = (why: string): never => {
    throw new FastvisionError('BAD_FILE', `'${file}' ${why}; the learner is unchanged`);
  };
  if (meta.format !== 'fastvision-checkpoint') bad('is not a fastvision checkpoint');
  if (Number(meta.weights) !== learn.model.weights.length) bad(`is a checkpoint of another model (${meta.weights} weights; this model has ${learn.model.weights.length})`);
  let steps: Record<string, number>;
  let hypers: unknown;
  try {
    steps = JSON.parse(meta.steps ?? '{}') as Record<string, number>;
    hypers = JSON.parse(meta.hypers ?? '[]');
  } catch (err) {
    return bad(`has corrupt metadata (${(err as Error).message})`);
  }
  if (!Array.isArray(hypers) || typeof steps !== 'object' || steps === null) bad('has corrupt metadata');
  const values = learn.model.weights.map((w, i) => {
    const t = tensors.get(`model.${i}`);
    if (!t || !tf.util.arraysEqual(t.shape, w.shape as number[])) bad(`does not fit weight ${i} (${w.name}: [${w.shape.join(', ')}]) of this model`);
    if (!t!.values.every(Number.isFinite)) bad(`holds NaN or infinite values in weight ${i} (${w.name})`);
    return t!;
  });
  learn.model.weights.forEach((w, i) =>
    tf.tidy(() => {
      w.write(tf.tensor(values[i]!.values, values[i]!.shape));
    }),
  );
  if (meta.withOpt === 'false') return none;
  const state = new Map<tf.Variable, { gradAvg: tf.Tensor; sqrAvg: tf.Tensor; step: number }>();
  learn.opt.groups.forEach((g, gi) =>
    g.params.forEach((p, pi) => {
      const a = tensors.get(`opt.${gi}.${pi}.grad_avg`);
      const b = tensors.get(`opt.${gi}.${pi}.sqr_avg`);
      if (a && b) state.set(p, { gradAvg: tf.tensor(a.values, a.shape), sqrAvg: tf.tensor(b.values, b.shape), step: steps[`${gi}.${pi}`] ?? 0 });
    }),
  );
  learn.opt.restore({ hypers: hypers as never, state });
  return none;
}
