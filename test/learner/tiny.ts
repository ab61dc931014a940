import * as tf from '../../src/core/tf.js';
import { DataLoaders, type DataFrameOptions } from '../../src/index.js';
import { Learner, type LearnerOptions } from '../../src/learner/learner.js';
import { tempDir, writeImages } from '../helpers/images.js';

/** Red vs blue 8 px images, 24 of them, and a 3-group conv net: a learner that trains in milliseconds. */
export async function tinyLearner(opts: LearnerOptions = {}, bs = 4, dlsOpts: DataFrameOptions = {}): Promise<Learner> {
  const dir = tempDir('fastvision-tiny-');
  const names = await writeImages(dir, 24, [[220, 30, 30], [30, 30, 220]]);
  const rows = names.map((fn, i) => ({ fn, label: i % 2 ? 'blue' : 'red' }));
  const dls = await DataLoaders.fromDataFrame(rows, { path: dir, ...(dlsOpts.itemTfms ? {} : { size: 8 }), bs, seed: 3, ...dlsOpts });
  const input = tf.input({ shape: [null, null, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' });
  const bn = tf.layers.batchNormalization({ name: 'bn' });
  const dense = tf.layers.dense({ units: 2, name: 'dense' });
  let x = conv.apply(input) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(bn.apply(x)) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: dense.apply(x) as tf.SymbolicTensor });
  return new Learner(dls, model, { layerGroups: [[conv], [bn], [dense]], logger: () => {}, ...opts });
}
