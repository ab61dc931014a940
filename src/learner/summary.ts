import * as tf from '../core/tf.js';
import type { Learner } from './learner.js';

/** What `learn.summary()` counts, with the table as text. */
export interface ModelSummary {
  /** fastai's table, as text. */
  text: string;
  /** Parameters (weights and biases; BatchNorm's running statistics are buffers, as in PyTorch, and not counted). */
  totalParams: number;
  /** Parameters a training step updates now. */
  trainableParams: number;
  /** Parameters of frozen layer groups. */
  nonTrainableParams: number;
}

/** BatchNorm's running statistics: buffers in PyTorch, not parameters. */
const isBuffer = (w: tf.LayerVariable) => /moving_(mean|variance)$/.test(w.originalName);

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * fastai's `learn.summary()`: every layer with its output shape (for one image at the
 * data's size), its parameter count and whether it trains now; then the totals, the
 * optimizer, the loss, the frozen state and the callbacks.
 */
export function modelSummary(learn: Learner): ModelSummary {
  const model = learn.model;
  const { height, width } = learn.inferenceConfig.resize;
  const trainable = new Set(learn.trainableVariables());
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const shapes = tf.tidy(() => {
    const probe = tf.model({ inputs: model.inputs, outputs: layers.map((l) => l.output as tf.SymbolicTensor) });
    const outs = probe.predict(tf.zeros([1, height, width, 3])) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(outs) ? outs : [outs]).map((t) => t.shape as number[]);
  });
  const rows: string[][] = [];
  let total = 0;
  let train = 0;
  layers.forEach((layer, i) => {
    const params = layer.weights.filter((w) => !isBuffer(w));
    const n = params.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
    const trains = params.some((w) => trainable.has(w.read() as tf.Variable));
    total += n;
    if (trains) train += n;
    rows.push([`${layer.name} (${layer.getClassName()})`, (shapes[i] ?? []).join(' x '), n ? fmt(n) : '', n ? (trains ? 'True' : 'False') : '']);
  });
  const header = ['Layer (type)', 'Output Shape', 'Param #', 'Trainable'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  const rule = '='.repeat(widths.reduce((a, b) => a + b + 2, -2));
  const frozen = learn.frozenGroups;
  const text = [
    `${model.name} (Input shape: 1 x ${height} x ${width} x 3)`,
    rule,
    line(header),
    rule,
    ...rows.map(line),
    rule,
    `Total params: ${fmt(total)}`,
    `Total trainable params: ${fmt(train)}`,
    `Total non-trainable params: ${fmt(total - train)}`,
    '',
    'Optimizer used: Adam',
    `Loss function: ${learn.lossFunc.name || 'custom'}`,
    '',
    frozen > 0 ? `Model frozen up to parameter group #${frozen}${learn.trainBn ? ' (BatchNorm layers of frozen groups train: trainBn)' : ''}` : 'Model unfrozen',
    '',
    'Callbacks:',
    ...learn.cbs.map((cb) => `  - ${cb.constructor.name}`),
  ].join('\n');
  return { text, totalParams: total, trainableParams: train, nonTrainableParams: total - train };
}
