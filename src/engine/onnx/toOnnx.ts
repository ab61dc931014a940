import type * as tf from '../../core/tf.js';
import { FastvisionError } from '../../core/errors.js';
import { version } from '../../version.js';
import { converters, supportedClasses } from './converters.js';
import { planFolds } from './foldPlan.js';
import { layerCalls } from './layerCalls.js';
import { toNchw, toNhwc, transpose } from './layout.js';
import { OnnxGraph, type Value } from './onnxGraph.js';
import { encodeModel, floatValueInfo } from './proto.js';
import { unsupportedLayer } from './unsupported.js';
import { readHostValues, type HostValues } from './weights.js';

/** Options of {@link toOnnx}. */
export interface ToOnnxOptions {
  /** Key–value pairs stored as the model's `metadata_props` (e.g. the vocab, the normalisation). */
  metadata?: Record<string, string>;
  /** The model's `doc_string`. */
  docString?: string;
}

/** ONNX IR version 8 (ONNX 1.10+) with opset 13: read by every ONNX Runtime since 1.10. */
const irVersion = 8;
const opset = 13;

/**
 * fastvision's model as an ONNX ModelProto (bytes), for ONNX Runtime. The graph's
 * input `input` is float32 NHWC `[N, H, W, 3]`, normalised as fastvision feeds tfjs;
 * its output `output` is what the model outputs (logits `[N, classes]`). Weights are
 * read from the layers as they are now; BatchNorm layers are in inference mode.
 *
 * @param model - A single-input, single-output LayersModel (a learner's `model`, or a body).
 * @param opts - Metadata and a doc string to store in the file.
 * @returns The serialized ModelProto: ONNX IR 8, opset 13, float32 weights.
 * @throws FastvisionError `BAD_OPTION` for a layer the exporter cannot write, naming it.
 *
 * @example
 * ```ts
 * const bytes = await toOnnx(learn.model, { metadata: { vocab: JSON.stringify(learn.dls.vocab) } });
 * writeFileSync('model.onnx', bytes);
 * const session = await ort.InferenceSession.create(bytes);   // onnxruntime-node
 * const { output } = await session.run({ input: new ort.Tensor('float32', pixels, [1, 224, 224, 3]) });
 * ```
 */
export async function toOnnx(model: tf.LayersModel, opts: ToOnnxOptions = {}): Promise<Uint8Array> {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new FastvisionError('BAD_OPTION', `fastvision: toOnnx exports models with one input and one output; '${model.name}' has ${model.inputs.length} and ${model.outputs.length}`);
  }
  const graph = new OnnxGraph();
  const inputName = graph.uniqueName('input');
  const outputName = graph.uniqueName('output');
  const inputShape = model.inputs[0]!.shape;
  const input: Value = { name: inputName, rank: inputShape.length };
  const values = new Map<number, Value>([[model.inputs[0]!.id, input.rank === 4 ? transpose(graph, input, toNchw, 'input_nchw') : input]]);
  writeLayers(model, graph, values, await readHostValues(model));
  const result = values.get(model.outputs[0]!.id)!;
  nameOutput(graph, result, outputName);
  return encodeModel({
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'fastvision',
    producerVersion: version,
    docString: opts.docString ?? '',
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: model.name,
      node: graph.nodes,
      initializer: graph.initializers,
      input: [floatValueInfo(inputName, dimsOf(inputShape, ['N', 'H', 'W', 'C']))],
      output: [floatValueInfo(outputName, dimsOf(model.outputs[0]!.shape, ['N', 'outH', 'outW', 'outC']))],
    },
  });
}

/** Every layer in model order (tfjs keeps it topological), each reading its inputs' values. */
function writeLayers(model: tf.LayersModel, graph: OnnxGraph, values: Map<number, Value>, host: HostValues): void {
  const folds = planFolds(model);
  for (const { layer, className, node } of layerCalls(model, unsupportedLayer)) {
    const inputs = node.inputTensors.map((t) => values.get(t.id)!);
    const convert = converters[className];
    if (!folds.absorbed.has(layer) && !convert) throw unsupportedLayer(layer, undefined, supportedClasses);
    const output = folds.absorbed.has(layer) ? inputs[0]! : convert!(layer, inputs, { graph, folds, host });
    values.set(node.outputTensors[0]!.id, output);
  }
}

/**
 * Gives the graph's result its fixed name `output`, in the model's own layout: a 4-D
 * result (a body without a head) goes back to NHWC.
 */
function nameOutput(graph: OnnxGraph, result: Value, outputName: string): void {
  if (result.rank === 4) {
    const nhwc = transpose(graph, result, toNhwc, 'output_nhwc');
    graph.rename(nhwc.name, outputName);
  } else if (graph.produces(result.name)) {
    graph.rename(result.name, outputName);
  } else {
    // The input itself (a model of pass-through layers): a value needs a node to be an output.
    graph.nodes.push({ opType: 'Identity', input: [result.name], output: [outputName], name: 'output_identity' });
  }
}

/** A tfjs shape as ONNX dims: unknown sizes become named symbols. */
function dimsOf(shape: (number | null)[], symbols: string[]): (number | string)[] {
  return shape.map((d, i) => d ?? (shape.length === 4 ? symbols[i]! : i === 0 ? 'N' : `d${i}`));
}
