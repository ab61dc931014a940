import { intsAttr } from './proto.js';
import type { OnnxGraph, Value } from './onnxGraph.js';

/**
 * fastvision's models are channels-last (NHWC), ONNX's Conv and pools channels-first
 * (NCHW). The graph transposes once at the input and keeps every 4-D tensor NCHW;
 * only a layer whose result depends on the order of elements (Flatten, a Dense on
 * 4-D) or the graph's output goes back to NHWC.
 */
export const toNchw = [0, 3, 1, 2];
export const toNhwc = [0, 2, 3, 1];

export function transpose(graph: OnnxGraph, x: Value, perm: number[], name: string): Value {
  return { name: graph.node('Transpose', [x.name], name, [intsAttr('perm', perm)]), rank: x.rank };
}

/** A Keras axis (negative counts from the end) as the axis of the ONNX tensor, for a tensor of `rank`. */
export function onnxAxis(kerasAxis: number, rank: number): number {
  const axis = kerasAxis < 0 ? kerasAxis + rank : kerasAxis;
  return rank === 4 ? toNchw.indexOf(axis) : axis;
}
