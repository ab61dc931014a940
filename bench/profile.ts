/**
 * `npm run bench:profile`: where one training step's time goes, per kernel, on the
 * wasm backend (tfjs's own profiler; kernels run synchronously there, so their
 * times add up to the step).
 *
 *   npm run bench:profile -- --net resnet18 --batch 16 --size 128 [--stock] [--top 15]
 */
import { parseArgs } from 'node:util';
import * as tf from '../src/core/tf.js';
import { initBackend } from '../src/index.js';
import { buildMobilenetV2 } from '../src/vision/archs/mobilenetV2.js';
import { buildResnet, resnetConfigs } from '../src/vision/archs/resnet.js';
import { useFastTraining } from '../src/engine/tfjs/fastTraining.js';
import { FusedInference } from '../src/engine/tfjs/fusedInference.js';

const { values: opts } = parseArgs({
  options: {
    net: { type: 'string', default: 'resnet18' },
    batch: { type: 'string', default: '16' },
    size: { type: 'string', default: '128' },
    top: { type: 'string', default: '15' },
    stock: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
    task: { type: 'string', default: 'train' },
  },
});
const batch = Number(opts.batch);
const size = Number(opts.size);

await initBackend({ backend: opts.backend as 'wasm' | 'cpu' });
const model = opts.net === 'mobilenetV2' ? buildMobilenetV2() : buildResnet(resnetConfigs[opts.net as 'resnet18']);
if (!opts.stock) useFastTraining(model);
const x = tf.randomNormal([batch, size, size, 3]);
const y = tf.oneHot(tf.randomUniform([batch], 0, 1000, 'int32') as tf.Tensor1D, 1000);
const optimizer = tf.train.sgd(0.01);
const train = () => {
  const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
  loss.dataSync();
  loss.dispose();
};
const fused = opts.stock ? undefined : new FusedInference(model);
const infer = () => {
  const out = fused ? fused.predict(x) : (model.predict(x) as tf.Tensor);
  out.dataSync();
  out.dispose();
};
const step = opts.task === 'inference' ? infer : train;
step(); // warm-up: first calls allocate and compile
const t0 = performance.now();
const info = await tf.profile(step);
const wall = (performance.now() - t0) / 1000;

const byName = new Map<string, { ms: number; calls: number }>();
for (const k of info.kernels) {
  // Op-level wrappers (fused ops, customGrad ops) time the kernels inside them again.
  if (k.name.endsWith("__op") || k.name === "unnamed scope") continue;
  const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += Number(k.kernelTimeMs) || 0;
  e.calls++;
  byName.set(k.name, e);
}
const total = [...byName.values()].reduce((a, e) => a + e.ms, 0);
console.log(`\n### ${opts.net} ${opts.task === 'inference' ? 'inference' : 'training step'}, batch ${batch}, ${size} px, ${opts.backend}${opts.stock ? ' (stock layers)' : ''}: ${wall.toFixed(2)} s wall, ${(total / 1000).toFixed(2)} s in kernels, peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB\n`);
console.log('| kernel | calls | ms | share of step |');
console.log('|---|---:|---:|---:|');
const stepMs = wall * 1000;
for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(opts.top))) {
  console.log(`| ${name} | ${e.calls} | ${e.ms.toFixed(0)} | ${((100 * e.ms) / stepMs).toFixed(1)}% |`);
}
// fastvision's fused loops (BatchNorm, ReLU6) run in JS inside custom ops, not as kernels.
console.log(`| (not in kernels: fused JS loops, gradient bookkeeping) |  | ${Math.max(0, stepMs - total).toFixed(0)} | ${((100 * Math.max(0, stepMs - total)) / stepMs).toFixed(1)}% |`);
