import { floatTensor, int64Tensor, type AttributeProto, type NodeProto, type TensorProto } from './proto.js';

/**
 * A tensor of the graph being built. Its rank says its layout: 4-D tensors are NCHW
 * (what ONNX's Conv and pools take), every other rank is as tfjs has it.
 */
export interface Value {
  name: string;
  rank: number;
}

/** The nodes and initializers of the ONNX graph, in the order they are added (already topological). */
export class OnnxGraph {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly names = new Set<string>();

  /** `base`, or `base_2`, `base_3`…: every value, initializer and node needs its own name. */
  uniqueName(base: string): string {
    let name = base;
    for (let k = 2; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** Adds one node with one output, named after `name`; returns the output's name. */
  node(opType: string, inputs: string[], name: string, attribute: AttributeProto[] = []): string {
    const nodeName = this.uniqueName(name);
    const output = nodeName;
    this.nodes.push({ opType, input: inputs, output: [output], name: nodeName, attribute });
    return output;
  }

  floats(name: string, dims: number[], values: ArrayLike<number>): string {
    const unique = this.uniqueName(name);
    this.initializers.push(floatTensor(unique, dims, values));
    return unique;
  }

  int64s(name: string, values: number[]): string {
    const unique = this.uniqueName(name);
    this.initializers.push(int64Tensor(unique, [values.length], values));
    return unique;
  }

  /** Renames a node output everywhere it is read: the graph's output has a fixed name. */
  rename(from: string, to: string): void {
    for (const n of this.nodes) {
      n.input = n.input!.map((i) => (i === from ? to : i));
      n.output = n.output!.map((o) => (o === from ? to : o));
    }
  }

  /** Whether a node writes `name` (and not the graph input or an initializer). */
  produces(name: string): boolean {
    return this.nodes.some((n) => n.output!.includes(name));
  }
}
