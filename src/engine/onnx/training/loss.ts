import { intAttr } from '../proto.js';
import type { TrainGraph, TVal } from './trainGraph.js';

/**
 * Mean softmax cross-entropy of `logits` `[N, K]` against int64 `labels` `[N]`:
 * loss = −Σ onehot·logsoftmax / N (tfjs's `losses.softmaxCrossEntropy` with its
 * default mean reduction), and its gradient (softmax − onehot)/N. The one-hot rows
 * come from comparing the labels with 0…K−1 (Equal), which avoids OneHot's narrow
 * type support in ONNX Runtime.
 */
export function crossEntropy(graph: TrainGraph, logits: TVal, labels: TVal): { loss: TVal; dLogits: TVal } {
  const [n, k] = logits.shape as [number, number];
  const classes = { name: graph.ints(Array.from({ length: k }, (_, i) => i)), shape: [k] };
  const column = graph.op('Unsqueeze', [labels, graph.ints([1])], [n, 1], 'loss_labels');
  const onehot = graph.cast(graph.op('Equal', [column, classes], [n, k], 'loss_hit'), 'float', 'loss_onehot');
  const logp = graph.op('LogSoftmax', [logits], [n, k], 'loss_logp', [intAttr('axis', 1)]);
  const picked = graph.reduceSum(graph.bin('Mul', onehot, logp, 'loss_picked'), [0, 1], false, 'loss_sum');
  const loss = graph.bin('Mul', picked, graph.scalar(-1 / n), 'loss_mean');
  const probs = graph.op('Exp', [logp], [n, k], 'loss_probs');
  const dLogits = graph.bin('Mul', graph.bin('Sub', probs, onehot, 'loss_diff'), graph.scalar(1 / n), 'loss_grad');
  return { loss, dLogits };
}
