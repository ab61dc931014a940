import * as tf from '../core/tf.js';
import { writeFileAtomic } from '../core/atomicWrite.js';
import { FastvisionError } from '../core/errors.js';
import { version } from '../version.js';
import { serializeSafetensors, type TensorData, type TensorToWrite } from '../vision/safetensors.js';
import { torchLayout, type TorchLayout, type TorchNaming } from '../vision/fastaiLayout.js';
import { toTfjsLayout, toTorchLayout, torchShape } from '../vision/torchWeights.js';
import type { Learner } from './learner.js';

/** What a non-strict {@link Learner.load} left out, in PyTorch's terms (`_IncompatibleKeys`). */
export interface IncompatibleKeys {
  /** Keys the learner has and the file lacks: those weights kept their values. */
  missingKeys: string[];
  /** Keys the file has and the learner does not use. */
  unexpectedKeys: string[];
  /** Keys whose shapes differ (`key: file [..], learner [..]`): those weights kept their values. */
  sizeMismatches: string[];
}

/**
 * The learner's model as fastai's `learn.model.state_dict()`: PyTorch layouts (conv
 * OIHW, linear `[out, in]`), every BatchNorm's running statistics and an int64
 * `num_batches_tracked` (0: fastvision does not count batches per layer; PyTorch reads
 * it only for BatchNorms with `momentum=None`), in one safetensors file written
 * atomically, with the arch, vocab, head and fastvision version as metadata.
 */
export async function saveTorchStateDict(learn: Learner, file: string): Promise<string> {
  const layout = torchLayout(learn.model, learn.arch);
  const tensors: Record<string, TensorToWrite> = {};
  for (const e of layout.entries) {
    const w = e.layer.weights[e.index]!.read();
    const torch = toTorchLayout(e.layer.getClassName(), e.param, w);
    tensors[e.key] = { shape: torch.shape, values: (await torch.data()) as Float32Array };
    if (torch !== w) torch.dispose();
  }
  for (const key of layout.counters) tensors[key] = { shape: [], dtype: 'I64', bytes: new Uint8Array(8) };
  const metadata: Record<string, string> = {
    format: 'pt',
    layout: 'fastai',
    arch: learn.arch!,
    head: JSON.stringify(headOf(learn.model)),
    fastvision: version,
  };
  const vocab = learnerVocab(learn);
  if (vocab) metadata.vocab = JSON.stringify(vocab);
  await writeFileAtomic(file, serializeSafetensors(tensors, metadata));
  return file;
}

/**
 * Loads a PyTorch state dict (fastai's learner layout, or a plain torchvision/timm body)
 * into the learner. Everything is checked before any weight is written. Strict (the
 * default), a missing or unexpected key or a size mismatch is an error listing them as
 * PyTorch does; `strict: false` loads what matches and returns what it skipped.
 */
export function loadTorchStateDict(learn: Learner, tensors: ReadonlyMap<string, TensorData>, meta: Record<string, string>, file: string, strict: boolean): IncompatibleKeys {
  const bad = (why: string): never => {
    throw new FastvisionError('BAD_FILE', `'${file}' ${why}; the learner is unchanged`);
  };
  const naming = detectNaming([...tensors.keys()]);
  if (meta.arch && learn.arch && (archAliases[meta.arch] ?? meta.arch) !== learn.arch) bad(`holds a ${meta.arch}; this learner is a ${learn.arch}`);
  if (strict && meta.vocab && learnerVocab(learn)) {
    const fileVocab = parseVocab(meta.vocab) ?? bad('has corrupt metadata (vocab is not a JSON list of class names)');
    const vocab = learnerVocab(learn)!;
    if (fileVocab.length === vocab.length && fileVocab.join('\u0000') !== vocab.join('\u0000')) {
      bad(`was trained on the classes [${fileVocab.join(', ')}] and this learner predicts [${vocab.join(', ')}]: the outputs would mean other classes (load with { strict: false } to take the weights anyway)`);
    }
  }
  const layout = torchLayout(learn.model, learn.arch, naming);
  const expected = new Set([...layout.entries.map((e) => e.key)]);
  const counters = new Set(layout.counters);
  const wrongDtype: string[] = [];
  const nonFinite: string[] = [];
  const result: IncompatibleKeys = { missingKeys: [], unexpectedKeys: [], sizeMismatches: [] };
  for (const [key, t] of tensors) {
    if (counters.has(key)) {
      if (!t.dtype.startsWith('I') && !t.dtype.startsWith('U')) wrongDtype.push(`${key}: ${t.dtype}, expected an integer (I64 in PyTorch)`);
    } else if (!expected.has(key)) result.unexpectedKeys.push(key);
  }
  const loads: { entry: TorchLayout['entries'][number]; data: TensorData }[] = [];
  for (const entry of layout.entries) {
    const data = tensors.get(entry.key);
    if (!data) {
      result.missingKeys.push(entry.key);
      continue;
    }
    if (!['F16', 'BF16', 'F32', 'F64'].includes(data.dtype)) {
      wrongDtype.push(`${entry.key}: ${data.dtype}, expected a floating-point dtype`);
      continue;
    }
    const want = torchShape(entry.layer.getClassName(), entry.param, entry.layer.weights[entry.index]!.shape as number[]);
    if (!tf.util.arraysEqual(want, data.shape)) {
      result.sizeMismatches.push(`${entry.key}: copying a param with shape [${data.shape.join(', ')}] from checkpoint, the shape in current model is [${want.join(', ')}]`);
      continue;
    }
    if (!data.values.every(Number.isFinite)) nonFinite.push(entry.key);
    loads.push({ entry, data });
  }
  if (wrongDtype.length) bad(`has tensors of the wrong dtype:\n  ${wrongDtype.join('\n  ')}`);
  if (nonFinite.length) bad(`holds NaN or infinite values in ${nonFinite.join(', ')}`);
  const classes = classCountMismatch(learn, layout, tensors);
  if (classes && strict) bad(`${classes} (load with { strict: false } to take every other weight, as for fine-tuning on new classes)`);
  if (strict && (result.missingKeys.length || result.unexpectedKeys.length || result.sizeMismatches.length)) {
    const hint = naming === 'fastai' ? '' : `\n  (its keys name a plain ${naming} model: the body only. Load it with { strict: false } to take the body's weights and keep this head.)`;
    bad(`does not fit this ${learn.arch} learner (${naming} layout). Error(s) in loading state_dict:${pytorchList(result)}${hint}`);
  }
  for (const { entry, data } of loads) {
    tf.tidy(() => {
      entry.layer.weights[entry.index]!.write(toTfjsLayout(entry.layer.getClassName(), entry.param, tf.tensor(data.values, data.shape)));
    });
  }
  return result;
}

/** The names fastai and timm give fastvision's architectures, for a file's `arch` metadata. */
const archAliases: Record<string, string> = { mobilenetv2_100: 'mobilenetV2', mobilenet_v2: 'mobilenetV2' };

/** `Missing key(s)…`, `Unexpected key(s)…`, `size mismatch for …`, as `load_state_dict` words them. */
export function pytorchList({ missingKeys, unexpectedKeys, sizeMismatches }: IncompatibleKeys): string {
  const quoted = (keys: string[]) => keys.map((k) => `"${k}"`).join(', ');
  return (
    (missingKeys.length ? `\n  Missing key(s) in state_dict: ${quoted(missingKeys)}.` : '') +
    (unexpectedKeys.length ? `\n  Unexpected key(s) in state_dict: ${quoted(unexpectedKeys)}.` : '') +
    sizeMismatches.map((m) => `\n  size mismatch for ${m}.`).join('')
  );
}

/** fastai's learner layout when every key is under `0.` or `1.`; else a plain body (timm's names for MobileNetV2 when it has `conv_stem`). */
function detectNaming(keys: string[]): TorchNaming {
  if (keys.length && keys.every((k) => /^[01]\./.test(k))) return 'fastai';
  return keys.some((k) => k.startsWith('conv_stem.') || k.startsWith('blocks.')) ? 'timm' : 'torchvision';
}

/** "has N classes; this learner has M" when the last linear layer's outputs differ. */
function classCountMismatch(learn: Learner, layout: TorchLayout, tensors: ReadonlyMap<string, TensorData>): string | undefined {
  const last = layout.entries.filter((e) => e.layer.getClassName() === 'Dense' && e.param === 'kernel').at(-1);
  const data = last && tensors.get(last.key);
  if (!last || !data || data.shape.length !== 2) return undefined;
  const mine = last.layer.weights[last.index]!.shape[1]!;
  if (data.shape[0] === mine) return undefined;
  return `has ${data.shape[0]} classes (${last.key} is [${data.shape.join(', ')}]); this learner has ${mine}`;
}

function learnerVocab(learn: Learner): string[] | undefined {
  try {
    return learn.inferenceConfig.vocab;
  } catch {
    return undefined;
  }
}

function parseVocab(text: string): string[] | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) && v.every((c) => typeof c === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The head's options as fastai's `vision_learner` takes them, read off the model's layers. */
function headOf(model: tf.LayersModel): Record<string, unknown> {
  const head = model.layers.filter((l) => l.name.startsWith('head_'));
  const dense = head.filter((l) => l.getClassName() === 'Dense');
  const units = dense.map((l) => (l.getConfig() as { units: number }).units);
  const rate = (i: number) => (head.find((l) => l.name === `head_drop${i}`)?.getConfig() as { rate: number } | undefined)?.rate ?? 0;
  const range = head.find((l) => l.getClassName() === 'Rescaling')?.getConfig() as { scale: number; offset: number } | undefined;
  return {
    lin_ftrs: units.slice(0, -1),
    n_out: units.at(-1),
    concat_pool: head.some((l) => l.name === 'head_pool_max'),
    first_bn: head.some((l) => l.name === 'head_bn0'),
    bn_final: head.some((l) => l.name === 'head_bn_final'),
    ps: units.map((_, i) => rate(i)),
    ...(range ? { y_range: [range.offset, range.offset + range.scale] } : {}),
  };
}
