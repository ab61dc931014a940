import type { TrainGraph, TVal } from './trainGraph.js';

/** One layer group's scalar hyper-parameters, as graph inputs (`g<group>:<name>`), so a schedule changes them every step without recompiling. */
export type GroupHypers = Record<string, TVal>;

/**
 * An optimizer written into the step: the per-parameter buffers it keeps (`slots`,
 * zero at the start), the per-group scalar inputs it reads (`hypers`) and the
 * update of one parameter.
 */
export interface OptimizerWriter {
  slots: readonly string[];
  hypers: readonly string[];
  /** Per-group values computed once per step from the hypers (e.g. 1 − lr·wd). */
  derive(graph: TrainGraph, h: GroupHypers, group: number): GroupHypers;
  update(graph: TrainGraph, w: TVal, slots: TVal[], g: TVal, h: GroupHypers, decay: boolean, name: string): { w: TVal; slots: TVal[] };
}

/** `p·(1 − lr·wd)`, fastai's decoupled weight decay (skipped for BatchNorm and bias weights). */
function decayed(graph: TrainGraph, w: TVal, h: GroupHypers, decay: boolean, name: string): TVal {
  return decay ? graph.bin('Mul', w, h.decayFactor!, `${name}_decayed`) : w;
}

/**
 * SGD with momentum, fastai's order: decoupled weight decay, then `m ← mom·m + g` and
 * `p ← p − lr·m`. With wd 0 this is tfjs's `train.momentum` (and PyTorch's SGD
 * without dampening) to the rounding.
 */
export const sgd: OptimizerWriter = {
  slots: ['mom'],
  hypers: ['lr', 'mom', 'wd'],
  derive: (graph, h, group) => ({ decayFactor: decayFactor(graph, h, group) }),
  update(graph, w, [m], g, h, decay, name) {
    const m2 = graph.bin('Add', graph.bin('Mul', m!, h.mom!, `${name}_mommul`), g, `${name}_m`);
    const w2 = graph.bin('Sub', decayed(graph, w, h, decay, name), graph.bin('Mul', m2, h.lr!, `${name}_step`), `${name}_w`);
    return { w: w2, slots: [m2] };
  },
};

/**
 * fastai's `Adam` (AdamW), as {@link Adam} in the Learner: decoupled weight decay, then
 * `avg ← mom·avg + (1−mom)·g`, `sqr ← sqrMom·sqr + (1−sqrMom)·g²`,
 * `p ← p − stepSize · avg / (√(sqr/debias2) + eps)` with `stepSize = lr/(1 − mom^t)` and
 * `debias2 = 1 − sqrMom^t` computed on the host from the step count t.
 */
export const adam: OptimizerWriter = {
  slots: ['gradAvg', 'sqrAvg'],
  hypers: ['lr', 'mom', 'sqrMom', 'eps', 'wd', 'stepSize', 'debias2'],
  derive: (graph, h, group) => ({
    decayFactor: decayFactor(graph, h, group),
    oneMinusMom: graph.bin('Sub', graph.scalar(1), h.mom!, `g${group}_1mmom`),
    oneMinusSqrMom: graph.bin('Sub', graph.scalar(1), h.sqrMom!, `g${group}_1msqrmom`),
  }),
  update(graph, w, [avg, sqr], g, h, decay, name) {
    const avg2 = graph.bin('Add', graph.bin('Mul', avg!, h.mom!, `${name}_avgmul`), graph.bin('Mul', g, h.oneMinusMom!, `${name}_gmul`), `${name}_avg`);
    const g2 = graph.bin('Mul', g, g, `${name}_g2`);
    const sqr2 = graph.bin('Add', graph.bin('Mul', sqr!, h.sqrMom!, `${name}_sqrmul`), graph.bin('Mul', g2, h.oneMinusSqrMom!, `${name}_g2mul`), `${name}_sqr`);
    const denom = graph.bin('Add', graph.op('Sqrt', [graph.bin('Div', sqr2, h.debias2!, `${name}_debiased`)], sqr2.shape, `${name}_sqrt`), h.eps!, `${name}_denom`);
    const step = graph.bin('Mul', graph.bin('Div', avg2, denom, `${name}_ratio`), h.stepSize!, `${name}_step`);
    return { w: graph.bin('Sub', decayed(graph, w, h, decay, name), step, `${name}_w`), slots: [avg2, sqr2] };
  },
};

export const optimizers = { sgd, adam } as const;

/** 1 − lr·wd, once per step and group. */
export function decayFactor(graph: TrainGraph, h: GroupHypers, group: number): TVal {
  return graph.bin('Sub', graph.scalar(1), graph.bin('Mul', h.lr!, h.wd!, `g${group}_lrwd`), `g${group}_decay`);
}
