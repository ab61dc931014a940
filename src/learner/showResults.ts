import * as tf from '../core/tf.js';
import { denormalizePixels } from '../data/normalize.js';
import { inferenceRunner } from '../engine/inference.js';
import { writeImageGrid } from '../plot/imageGrid.js';
import type { Learner } from './learner.js';

/** Options of `learn.showResults`. */
export interface ShowResultsOptions {
  /** Images to show. Default 9. */
  maxN?: number;
  /** Rows of the grid. Default `int(sqrt(maxN))`. */
  rows?: number;
  /** PNG to write. Default `'results.png'`. */
  file?: string;
  /** Which split. Default `'valid'`. */
  ds?: 'train' | 'valid';
}

/**
 * fastai's `learn.show_results()`: a batch of (validation) images, each captioned with
 * its target and the model's prediction (`target / predicted`, as fastai's two lines),
 * written as a PNG grid. Returns the file.
 */
export async function showResults(learn: Learner, opts: ShowResultsOptions = {}): Promise<string> {
  const { maxN = 9, rows, file = 'results.png', ds = 'valid' } = opts;
  const dls = learn.dls;
  const { x, y, indices } = await dls[ds].oneBatch();
  const runner = inferenceRunner(learn.model);
  try {
    const n = Math.min(maxN, indices.length);
    const [height, width] = dls.size;
    const out = await runner.run(x as tf.Tensor4D);
    const probs = tf.tidy(() => learn.lossFunc.activation(out));
    out.dispose();
    const decoded = tf.tidy(() => learn.lossFunc.decodes(probs));
    const [pixels, targets, predicted] = await Promise.all([denormalizePixels(x, dls.normalize), y.array(), decoded.array()]);
    tf.dispose([probs, decoded]);
    const names = (v: number | number[] | boolean[]) =>
      Array.isArray(v) ? dls.vocab.filter((_, k) => Number(v[k]) > 0.5).join('; ') || '(none)' : dls.vocab[v]!;
    const per = height * width * 3;
    const images = Array.from({ length: n }, (_, k) => ({
      pixels: pixels.subarray(k * per, (k + 1) * per),
      width,
      height,
      caption: `${names((targets as number[] | number[][])[k]!)} / ${names((predicted as number[] | boolean[][])[k]! as number | boolean[])}`,
    }));
    return await writeImageGrid(images, { file, ...(rows ? { rows } : {}), title: 'target / predicted' });
  } finally {
    runner.dispose();
    tf.dispose([x, y]);
  }
}
