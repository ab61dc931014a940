import type { TrainGraph, TVal } from './trainGraph.js';

/** The step's scalar hyper-parameters: graph inputs, so a schedule changes them every step without recompiling. */
export interface HyperValues {
  lr: TVal;
  mom: TVal;
  wd: TVal;
}

/**
 * SGD with momentum, fastai's order: decoupled weight decay `p·(1 − lr·wd)` (when
 * `decay`), then `m ← mom·m + g` and `p ← p − lr·m`. With wd 0 this is tfjs's
 * `train.momentum` (and PyTorch's SGD without dampening) to the rounding.
 */
export function sgdUpdate(graph: TrainGraph, w: TVal, m: TVal, g: TVal, h: HyperValues & { decayFactor: TVal }, decay: boolean, name: string): { w: TVal; m: TVal } {
  const m2 = graph.bin('Add', graph.bin('Mul', m, h.mom, `${name}_mommul`), g, `${name}_m`);
  const decayed = decay ? graph.bin('Mul', w, h.decayFactor, `${name}_decayed`) : w;
  const w2 = graph.bin('Sub', decayed, graph.bin('Mul', m2, h.lr, `${name}_step`), `${name}_w`);
  return { w: w2, m: m2 };
}

/** 1 − lr·wd, once per step. */
export function decayFactor(graph: TrainGraph, h: HyperValues): TVal {
  return graph.bin('Sub', graph.scalar(1), graph.bin('Mul', h.lr, h.wd, 'sgd_lrwd'), 'sgd_decay');
}
