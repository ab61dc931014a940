import type { Converter } from './converter.js';
import { toNhwc, transpose } from './layout.js';
import { intAttr } from './proto.js';

/** Flatten to `[N, rest]` in Keras's element order: a 4-D tensor goes back to NHWC first. */
export const flatten: Converter = (layer, [x], { graph }) => {
  if (x!.rank === 2) return x!;
  const ordered = x!.rank === 4 ? transpose(graph, x!, toNhwc, `${layer.name}_nhwc`) : x!;
  return { name: graph.node('Flatten', [ordered.name], layer.name, [intAttr('axis', 1)]), rank: 2 };
};
