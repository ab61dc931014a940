import * as tf from '../core/tf.js';
import type { TensorData } from './safetensors.js';
import { FastvisionError } from '../core/errors.js';

/** Maps a torchvision-style key (`layer1.0.conv1.weight`) to the key a file uses. */
export type KeyMap = (torchvisionKey: string) => string;

/** tfjs weight name → PyTorch parameter or buffer name. */
export const torchParam: Record<string, string> = {
  kernel: 'weight',
  depthwise_kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
};

/** PyTorch layout → tfjs layout, by layer class and weight. */
export function toTfjsLayout(className: string, param: string, t: tf.Tensor): tf.Tensor {
  if (param === 'kernel' && className === 'Conv2D') return tf.transpose(t, [2, 3, 1, 0]); // OIHW → HWIO
  if (param === 'depthwise_kernel') return tf.transpose(t, [2, 3, 0, 1]); // C,1,H,W → H,W,C,1
  if (param === 'kernel' && className === 'Dense') return tf.transpose(t, [1, 0]); // out,in → in,out
  return t;
}

/** tfjs layout → PyTorch layout: the inverse of {@link toTfjsLayout}. */
export function toTorchLayout(className: string, param: string, t: tf.Tensor): tf.Tensor {
  if (param === 'kernel' && className === 'Conv2D') return tf.transpose(t, [3, 2, 0, 1]); // HWIO → OIHW
  if (param === 'depthwise_kernel') return tf.transpose(t, [2, 3, 0, 1]); // H,W,C,1 → C,1,H,W
  if (param === 'kernel' && className === 'Dense') return tf.transpose(t, [1, 0]);
  return t;
}

/** The shape a tfjs weight has in PyTorch's layout. */
export function torchShape(className: string, param: string, shape: readonly number[]): number[] {
  const [a, b, c, d] = shape as number[];
  if (param === 'kernel' && className === 'Conv2D') return [d!, c!, a!, b!];
  if (param === 'depthwise_kernel') return [c!, d!, a!, b!];
  if (param === 'kernel' && className === 'Dense') return [b!, a!];
  return [...shape];
}

/**
 * Options of {@link loadStateDict}.
 */
export interface LoadStateDictOptions {
  /** Names the file for messages. */
  source: string;
  /** How this file names things, if not as torchvision does. */
  keyMap?: KeyMap;
  /** Keys in the file that are fine to leave unused. Default: BatchNorm's `num_batches_tracked`. */
  ignore?: RegExp;
}

/**
 * Loads a PyTorch state dict into a model whose layer names are torchvision's module
 * paths with `_` for `.` (as fastvision's architectures are). Converts layouts (conv
 * OIHW → HWIO, depthwise, linear transpose; BatchNorm running stats). Keys the model
 * needs but the file lacks, keys the file has but the model does not use, and shape
 * mismatches are one error that lists them all.
 *
 * @param model - A model whose layer names are torchvision's module paths with `_` (as {@link buildResnet} builds).
 * @param tensors - A state dict, e.g. from {@link loadSafetensors}.
 * @param opts - `source` names the file in messages; `keyMap`, `ignore`.
 *
 * @example
 * ```ts
 * const model = buildResnet(resnetConfigs.resnet18);
 * loadStateDict(model, await loadSafetensors('resnet18.safetensors'), { source: 'resnet18.safetensors' });
 * ```
 */
export function loadStateDict(model: tf.LayersModel, tensors: ReadonlyMap<string, TensorData>, opts: LoadStateDictOptions): void {
  const keyMap = opts.keyMap ?? ((k: string) => k);
  const ignore = opts.ignore ?? /(^|\.)num_batches_tracked$/;
  const used = new Set<string>();
  const missing: string[] = [];
  const wrongShape: string[] = [];
  const nonFinite: string[] = [];
  const assignments: [tf.layers.Layer, tf.Tensor[]][] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values: tf.Tensor[] = [];
    for (const w of layer.weights) {
      const param = w.originalName.split('/').pop()!;
      const name = torchParam[param];
      if (!name) throw new FastvisionError('BAD_FILE', `fastvision: no PyTorch equivalent for weight '${w.originalName}' of layer '${layer.name}'`);
      const key = keyMap(`${layer.name.replaceAll('_', '.')}.${name}`);
      const t = tensors.get(key);
      if (!t) {
        missing.push(key);
        continue;
      }
      used.add(key);
      if (!t.values.every(Number.isFinite)) {
        nonFinite.push(key);
        continue;
      }
      const converted = tf.tidy(() => toTfjsLayout(layer.getClassName(), param, tf.tensor(t.values, t.shape)));
      if (!tf.util.arraysEqual(converted.shape, w.shape as number[])) {
        wrongShape.push(`${key}: file [${t.shape.join(', ')}] → [${converted.shape.join(', ')}], model needs [${w.shape.join(', ')}]`);
        converted.dispose();
        continue;
      }
      values.push(converted);
    }
    assignments.push([layer, values]);
  }
  const unused = [...tensors.keys()].filter((k) => !used.has(k) && !ignore.test(k));
  if (missing.length || unused.length || wrongShape.length || nonFinite.length) {
    tf.dispose(assignments.flatMap(([, v]) => v));
    const list = (title: string, keys: string[]) => (keys.length ? `\n  ${title} (${keys.length}): ${keys.slice(0, 30).join(', ')}${keys.length > 30 ? ', …' : ''}` : '');
    throw new FastvisionError('BAD_FILE',
      `fastvision: the weights in '${opts.source}' do not fit model '${model.name}':` +
        list('missing from the file', missing) +
        list('in the file but not used', unused) +
        list('wrong shape', wrongShape) +
        list('NaN or infinite values', nonFinite),
    );
  }
  for (const [layer, values] of assignments) {
    layer.setWeights(values);
    tf.dispose(values);
  }
}
