import { intAttr } from '../proto.js';
import type { TrainGraph, TVal } from './trainGraph.js';

/**
 * Mean softmax cross-entropy of `logits` `[N, K]` against soft targets `[N, K]` whose
 * rows sum to 1: loss = −Σ t·logsoftmax / N, gradient (softmax − t)/N. One-hot rows
 * give `CrossEntropyLossFlat`; label smoothing and MixUp are other rows (each loss
 * says which: `LossFunc.softTargets`), so one compiled step serves them all.
 */
export function crossEntropy(graph: TrainGraph, logits: TVal, targets: TVal): { loss: TVal; dLogits: TVal } {
  const [n, k] = logits.shape as [number, number];
  const logp = graph.op('LogSoftmax', [logits], [n, k], 'loss_logp', [intAttr('axis', 1)]);
  const picked = graph.reduceSum(graph.bin('Mul', targets, logp, 'loss_picked'), [0, 1], false, 'loss_sum');
  const loss = graph.bin('Mul', picked, graph.scalar(-1 / n), 'loss_mean');
  const probs = graph.op('Exp', [logp], [n, k], 'loss_probs');
  const dLogits = graph.bin('Mul', graph.bin('Sub', probs, targets, 'loss_diff'), graph.scalar(1 / n), 'loss_grad');
  return { loss, dLogits };
}

/**
 * fastai's `BCEWithLogitsLossFlat`: the mean over every item and class of
 * max(x, 0) − x·t + log(1 + e^−|x|) against multi-hot (or MixUp-mixed) targets, and its
 * gradient (sigmoid(x) − t)/(N·K).
 */
export function bceWithLogits(graph: TrainGraph, logits: TVal, targets: TVal): { loss: TVal; dLogits: TVal } {
  const [n, k] = logits.shape as [number, number];
  const relu = graph.op('Relu', [logits], [n, k], 'loss_relu');
  const xt = graph.bin('Mul', logits, targets, 'loss_xt');
  const negAbs = graph.op('Neg', [graph.op('Abs', [logits], [n, k], 'loss_abs')], [n, k], 'loss_negabs');
  const softplus = graph.op('Softplus', [negAbs], [n, k], 'loss_softplus');
  const elementwise = graph.bin('Add', graph.bin('Sub', relu, xt, 'loss_linear'), softplus, 'loss_items');
  const loss = graph.bin('Mul', graph.reduceSum(elementwise, [0, 1], false, 'loss_sum'), graph.scalar(1 / (n * k)), 'loss_mean');
  const probs = graph.op('Sigmoid', [logits], [n, k], 'loss_probs');
  const dLogits = graph.bin('Mul', graph.bin('Sub', probs, targets, 'loss_diff'), graph.scalar(1 / (n * k)), 'loss_grad');
  return { loss, dLogits };
}
