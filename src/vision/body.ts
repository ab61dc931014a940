import * as tf from '../core/tf.js';
import type { FetchOptions } from '../core/download.js';
import type { NormStats } from '../data/normalize.js';
import { pretrainedConfigs, type ArchName } from './pretrained.js';
import { layerNodes } from '../engine/tfjs/privateFields.js';
import { loadStateDict } from './torchWeights.js';
import { pretrainedWeights, weightsLocation } from './weights.js';
import { FastvisionError } from '../core/errors.js';

/** A pretrained (or not) feature extractor: images in, feature maps out, in layer groups. */
export interface VisionBody {
  /** `[batch, h, w, 3]` at any size → `[batch, h', w', nf]`. */
  model: tf.LayersModel;
  /** The body's layers in groups, earliest first (the head becomes one more group). */
  groups: tf.layers.Layer[][];
  /** The normalisation the body's weights expect. */
  stats: NormStats;
  /** Where it came from, e.g. `'resnet34'` or the layers model's name. */
  name: string;
}

/** Options of {@link bodyFromArch}. */
export interface ArchBodyOptions extends FetchOptions {
  /** Load ImageNet weights (from the cache or the model hub). Default true. */
  pretrained?: boolean;
  /**
   * fastai's `cut`: the body's last layer, by name or index in the architecture's
   * layers (inclusive). Default: where fastai cuts (before the pooling and classifier).
   */
  cut?: string | number;
}

/**
 * The body of one of fastvision's architectures (fastai's `create_body`): the model
 * up to its classifier, with pretrained weights unless `pretrained: false`.
 *
 * @param arch - `'resnet18'`, `'resnet34'`, `'resnet50'` or `'mobilenetV2'`.
 * @param opts - `pretrained` (default true) and download options.
 *
 * @example
 * ```ts
 * const body = await bodyFromArch('resnet34');          // ImageNet weights, from the cache or the hub
 * const { model, groups, stats } = body;                 // 2 layer groups, ImageNet statistics
 * ```
 */
export async function bodyFromArch(arch: ArchName, opts: ArchBodyOptions = {}): Promise<VisionBody> {
  const config = pretrainedConfigs[arch];
  if (!config) throw new FastvisionError('BAD_OPTION', `fastvision: unknown architecture '${String(arch)}'; expected one of ${Object.keys(pretrainedConfigs).join(', ')}`);
  // Weights first: a download or a file that fails its checks then leaves no model behind.
  const weights = (opts.pretrained ?? true) ? await pretrainedWeights(arch, opts) : undefined;
  const full = config.build();
  if (weights) {
    try {
      loadStateDict(full, weights, { source: weightsLocation(arch).file, ...(config.keyMap ? { keyMap: config.keyMap } : {}) });
    } catch (err) {
      full.dispose();
      throw err;
    }
  }
  const inGroup = (layer: tf.layers.Layer, prefixes: string[]) => prefixes.some((p) => layer.name === p || layer.name.startsWith(`${p}_`));
  let groups = config.groups.map((prefixes) => full.layers.filter((l) => inGroup(l, prefixes)));
  let bodyLayers = new Set(groups.flat());
  let last = full.layers.filter((l) => bodyLayers.has(l)).at(-1)!;
  if (opts.cut !== undefined) {
    const i = resolveCut(full, opts.cut);
    last = full.layers[i]!;
    const kept = new Set(full.layers.slice(0, i + 1));
    groups = groups.map((g) => g.filter((l) => kept.has(l))).filter((g) => g.length);
    bodyLayers = new Set(groups.flat());
  }
  const model = tf.model({ inputs: full.inputs, outputs: last.output as tf.SymbolicTensor, name: `${arch}_body` });
  for (const l of model.layers) {
    if (l.getClassName() !== 'InputLayer' && !bodyLayers.has(l)) throw new FastvisionError('BAD_OPTION', `fastvision: layer '${l.name}' of ${arch} is in no layer group`);
  }
  // The ImageNet classifier is not part of the body: free its weights.
  for (const l of full.layers) if (!model.layers.includes(l)) l.dispose();
  return { model, groups, stats: config.stats, name: arch };
}

/** Options of {@link fromLayersModel}. */
export interface LayersModelBodyOptions {
  /**
   * The last layer of the body, by name or index (inclusive). Default: the layer
   * before the first pooling, flatten or dense layer at the end of the model.
   */
  cut?: string | number;
  /** The normalisation the model's weights expect (e.g. `{ mean: [0,0,0], std: [1,1,1] }` for inputs in [0, 1]). */
  normalize: NormStats;
  /** Names of the layers that start a new layer group. Default: the body is one group. */
  splitAt?: string[];
}

/**
 * Any tfjs `LayersModel` as a body: its layers up to `cut`, re-applied to a new
 * input of any size (so a Keras model fixed at 224 px runs at 320), sharing the
 * original layers and weights.
 *
 * @example
 * ```ts
 * const keras = await tf.loadLayersModel('file://mobilenet/model.json');
 * const body = fromLayersModel(keras, { cut: 'out_relu', normalize: { mean: [0, 0, 0], std: [1, 1, 1] } });
 * ```
 *
 * @param source - Any tfjs layers model taking images.
 * @param opts - Where to cut, the normalisation its weights expect, and where layer groups start.
 */
export function fromLayersModel(source: tf.LayersModel, opts: LayersModelBodyOptions): VisionBody {
  const layers = source.layers;
  const cutIndex = resolveCut(source, opts.cut);
  const input = tf.input({ shape: [null, null, 3], name: `${source.name}_image` });
  const mapped = new Map<number, tf.SymbolicTensor>();
  mapped.set(source.inputs[0]!.id, input);
  let last: tf.SymbolicTensor = input;
  for (const layer of layers.slice(0, cutIndex + 1)) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = layerNodes(layer)[0]!;
    const inputs = node.inputTensors.map((t) => {
      const m = mapped.get(t.id);
      if (!m) throw new FastvisionError('BAD_OPTION', `fastvision: layer '${layer.name}' reads a tensor from outside the body (cut at '${layers[cutIndex]!.name}')`);
      return m;
    });
    const out = layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tf.SymbolicTensor;
    node.outputTensors.forEach((t) => mapped.set(t.id, out));
    last = out;
  }
  const model = tf.model({ inputs: input, outputs: last, name: `${source.name}_body` });
  const bodyLayers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const starts = new Set(opts.splitAt ?? []);
  for (const name of starts) if (!bodyLayers.some((l) => l.name === name)) throw new FastvisionError('BAD_OPTION', `fastvision: splitAt layer '${name}' is not in the body`);
  const groups: tf.layers.Layer[][] = [[]];
  for (const l of bodyLayers) {
    if (starts.has(l.name) && groups.at(-1)!.length) groups.push([]);
    groups.at(-1)!.push(l);
  }
  return { model, groups, stats: opts.normalize, name: source.name };
}

function resolveCut(model: tf.LayersModel, cut: string | number | undefined): number {
  const layers = model.layers;
  if (typeof cut === 'number') {
    const i = cut < 0 ? layers.length + cut : cut;
    if (!(i >= 0 && i < layers.length)) throw new FastvisionError('BAD_OPTION', `fastvision: cut ${cut} is outside the model's ${layers.length} layers`);
    return i;
  }
  if (typeof cut === 'string') {
    const i = layers.findIndex((l) => l.name === cut);
    if (i < 0) throw new FastvisionError('BAD_OPTION', `fastvision: cut '${cut}' is not a layer of '${model.name}'; its last layers are ${layers.slice(-8).map((l) => `'${l.name}'`).join(', ')}`);
    return i;
  }
  // fastai cuts before the pooling; here: before the trailing pool/flatten/dense/dropout layers.
  let i = layers.length - 1;
  while (i > 0 && /Pooling|Flatten|Dense|Dropout|Reshape|Softmax|Activation/.test(layers[i]!.getClassName())) i--;
  return i;
}
