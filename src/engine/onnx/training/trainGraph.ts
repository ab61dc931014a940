import { OnnxGraph } from '../onnxGraph.js';
import { floatAttr, intAttr, intsAttr, onnx, stringAttr, type AttributeProto, type TensorProto } from '../proto.js';

/**
 * A tensor of the training graph with its static shape. The step is compiled for one
 * batch size and image size, so every shape is known while writing: the backward
 * pass needs them (output_padding, im2col's slices, reshapes) and knowing them here
 * saves ONNX Runtime the Shape/Gather chains a symbolic graph would need. 4-D
 * tensors are NCHW, as in the inference exporter (see ../layout.ts).
 */
export interface TVal {
  name: string;
  shape: number[];
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The inference exporter's {@link OnnxGraph} plus the ops a training step writes,
 * each a small method that knows the result's shape. Constants are shared: a
 * backward pass asks for the same scalars and shape vectors hundreds of times.
 */
export class TrainGraph extends OnnxGraph {
  private readonly floatConsts = new Map<string, string>();
  private readonly intConsts = new Map<string, string>();
  /** Values already renamed to a graph output: a second output of one value is an Identity of the first. */
  private readonly renamed = new Map<string, string>();

  /** A float32 constant (scalar by default), written once per value and shape. */
  scalar(v: number, dims: number[] = []): string {
    const key = `${dims.join('x')}:${Math.fround(v)}`;
    let name = this.floatConsts.get(key);
    if (!name) this.floatConsts.set(key, (name = this.floats(`c_${Math.fround(v)}`.replace(/[^\w.-]/g, '_'), dims, [v])));
    return name;
  }

  /** An int64 vector constant (shapes, axes, pads, slice bounds). */
  ints(values: number[]): string {
    const key = values.join(',');
    let name = this.intConsts.get(key);
    if (!name) this.intConsts.set(key, (name = this.int64s('i64', values)));
    return name;
  }

  /** A float32 initializer with its values (e.g. the flip matrix). */
  constTensor(name: string, dims: number[], values: ArrayLike<number>): string {
    return this.floats(name, dims, values);
  }

  /** A node with several outputs (MaxPool's values and indices). */
  multi(opType: string, inputs: string[], name: string, outputs: number, attribute: AttributeProto[] = []): string[] {
    const nodeName = this.uniqueName(name);
    const outs = Array.from({ length: outputs }, (_, k) => (k === 0 ? nodeName : this.uniqueName(`${nodeName}_out${k}`)));
    this.nodes.push({ opType, input: inputs, output: outs, name: nodeName, attribute });
    return outs;
  }

  op(opType: string, inputs: (TVal | string)[], shape: number[], name: string, attribute: AttributeProto[] = []): TVal {
    return { name: this.node(opType, inputs.map((i) => (typeof i === 'string' ? i : i.name)), name, attribute), shape };
  }

  /** Elementwise binary op with numpy broadcasting. */
  bin(opType: 'Add' | 'Sub' | 'Mul' | 'Div', a: TVal | string, b: TVal | string, name: string): TVal {
    const sa = typeof a === 'string' ? [] : a.shape;
    const sb = typeof b === 'string' ? [] : b.shape;
    return this.op(opType, [a, b], broadcast(sa, sb), name);
  }

  reshape(x: TVal, shape: number[], name: string): TVal {
    if (shape.join() === x.shape.join()) return x;
    return this.op('Reshape', [x, this.ints(shape)], shape, name);
  }

  transpose(x: TVal, perm: number[], name: string): TVal {
    return this.op('Transpose', [x], perm.map((p) => x.shape[p]!), name, [intsAttr('perm', perm)]);
  }

  /** ReduceSum (opset 13+: axes as an input). */
  reduceSum(x: TVal, axes: number[], keepdims: boolean, name: string): TVal {
    return this.op('ReduceSum', [x, this.ints(axes)], reducedShape(x.shape, axes, keepdims), name, [intAttr('keepdims', keepdims ? 1 : 0)]);
  }

  /** ReduceMean and ReduceMax (until opset 18: axes as an attribute). */
  reduce(op: 'ReduceMean' | 'ReduceMax' | 'ReduceSumSquare', x: TVal, axes: number[], keepdims: boolean, name: string): TVal {
    return this.op(op, [x], reducedShape(x.shape, axes, keepdims), name, [intsAttr('axes', axes), intAttr('keepdims', keepdims ? 1 : 0)]);
  }

  /** Slice with static bounds. */
  slice(x: TVal, axes: number[], starts: number[], ends: number[], steps: number[], name: string): TVal {
    const shape = [...x.shape];
    axes.forEach((a, k) => (shape[a] = Math.ceil((Math.min(ends[k]!, x.shape[a]!) - starts[k]!) / steps[k]!)));
    return this.op('Slice', [x, this.ints(starts), this.ints(ends), this.ints(axes), this.ints(steps)], shape, name);
  }

  /** Zero padding; `pads` in ONNX order (every axis's begin, then every axis's end). */
  pad(x: TVal, pads: number[], name: string): TVal {
    if (pads.every((p) => p === 0)) return x;
    const r = x.shape.length;
    const shape = x.shape.map((d, a) => d + pads[a]! + pads[a + r]!);
    return this.op('Pad', [x, this.ints(pads), this.scalar(0)], shape, name);
  }

  concat(xs: TVal[], axis: number, name: string): TVal {
    const shape = [...xs[0]!.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    return this.op('Concat', xs, shape, name, [intAttr('axis', axis)]);
  }

  matmul(a: TVal, b: TVal, name: string): TVal {
    return this.op('MatMul', [a, b], [a.shape[0]!, b.shape[1]!], name);
  }

  /** Gemm without bias: op(A)·op(B), op a transpose when asked. */
  gemm(a: TVal, b: TVal, transA: boolean, transB: boolean, name: string): TVal {
    const m = transA ? a.shape[1]! : a.shape[0]!;
    const n = transB ? b.shape[0]! : b.shape[1]!;
    return this.op('Gemm', [a, b], [m, n], name, [intAttr('transA', transA ? 1 : 0), intAttr('transB', transB ? 1 : 0)]);
  }

  expand(x: TVal, shape: number[], name: string): TVal {
    return this.op('Expand', [x, this.ints(shape)], shape, name);
  }

  /** A float32 tensor of zeros, made at run time (not stored in the model). */
  zeros(shape: number[], name: string): TVal {
    const value: TensorProto = { dims: [1], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [0] };
    return this.op('ConstantOfShape', [this.ints(shape)], shape, name, [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: value }]);
  }

  cast(x: TVal, to: 'float' | 'int64' | 'bool', name: string): TVal {
    const types = { float: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64, bool: onnx.TensorProto.DataType.BOOL };
    return this.op('Cast', [x], x.shape, name, [intAttr('to', types[to])]);
  }

  /** `cond ? a : b`, broadcast to the larger shape. */
  where(cond: TVal, a: TVal | string, b: TVal | string, name: string): TVal {
    const sa = typeof a === 'string' ? [] : a.shape;
    const sb = typeof b === 'string' ? [] : b.shape;
    return this.op('Where', [cond, a, b], broadcast(broadcast(cond.shape, sa), sb), name);
  }

  /** Makes `value` a graph output named `outName` (renaming the node that writes it, or an Identity). */
  output(value: TVal, outName: string): void {
    const current = this.renamed.get(value.name) ?? value.name;
    if (current === value.name && this.produces(value.name)) {
      this.rename(value.name, outName);
      this.renamed.set(value.name, outName);
    } else {
      this.nodes.push({ opType: 'Identity', input: [current], output: [outName], name: `${outName}_identity` });
    }
  }
}

export { floatAttr, intAttr, intsAttr, stringAttr, size };

export function broadcast(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    return da === 1 ? db : da;
  });
}

function reducedShape(shape: number[], axes: number[], keepdims: boolean): number[] {
  return keepdims ? shape.map((d, a) => (axes.includes(a) ? 1 : d)) : shape.filter((_, a) => !axes.includes(a));
}
