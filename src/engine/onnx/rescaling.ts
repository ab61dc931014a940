import type { Converter } from './converter.js';

/** Rescaling: x · scale + offset (fastvision's yRange is Activation('sigmoid') then this). */
export const rescaling: Converter = (layer, [x], { graph }) => {
  const { scale, offset } = layer.getConfig() as { scale: number; offset: number };
  const scaled = graph.node('Mul', [x!.name, graph.floats(`${layer.name}_scale`, [], [scale])], `${layer.name}_mul`);
  return { name: graph.node('Add', [scaled, graph.floats(`${layer.name}_offset`, [], [offset])], layer.name), rank: x!.rank };
};
