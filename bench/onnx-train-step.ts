/**
 * ResNet-18's and MobileNetV2's training steps compiled to one ONNX graph (issue 22), timed on ONNX
 * Runtime with 1 and 2 intra-op threads, beside tfjs-wasm's step (as bench/train-step.ts
 * times it, with the Learner's speed-ups) and PyTorch's (bench/torch_bench.py, the
 * faster of 1 and 2 threads is the reference).
 *
 *   npx tsx bench/onnx-train-step.ts --batch 16 --size 128 --steps 5 [--nets resnet18,mobilenetV2] [--no-tfjs] [--no-torch]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import * as tf from '../src/core/tf.js';
import { initBackend } from '../src/index.js';
import { compileTrainStep, createTrainSession, initialTrainState, trainStepOrt } from '../src/engine/onnx/training/index.js';
import { useFastTraining } from '../src/engine/tfjs/fastTraining.js';
import { buildMobilenetV2 } from '../src/vision/archs/mobilenetV2.js';
import { buildResnet, resnetConfigs } from '../src/vision/archs/resnet.js';

const { values: opts } = parseArgs({
  options: {
    batch: { type: 'string', default: '16' },
    size: { type: 'string', default: '128' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1,2' },
    nets: { type: 'string', default: 'resnet18,mobilenetV2' },
    'no-tfjs': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
  },
});
const batch = Number(opts.batch);
const size = Number(opts.size);
const steps = Number(opts.steps);
const warmup = Number(opts.warmup);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function time(label: string, fn: () => Promise<void>): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push((performance.now() - t0) / 1000);
    process.stderr.write(`  ${label}: step ${i + 1}/${steps} ${ts.at(-1)!.toFixed(3)} s\n`);
  }
  return median(ts);
}

const builders: Record<string, () => tf.LayersModel> = { resnet18: () => buildResnet(resnetConfigs.resnet18), mobilenetV2: () => buildMobilenetV2() };
await initBackend({ backend: 'wasm' });
const tables: string[] = [];
for (const net of opts.nets.split(',')) {
  const rows: { engine: string; seconds: number }[] = [];
  const model = builders[net]!();
  const images = Float32Array.from({ length: batch * size * size * 3 }, () => Math.random() * 2 - 1);
  const labels = Array.from({ length: batch }, (_, i) => (i * 37) % 1000);

  const t0 = performance.now();
  const step = compileTrainStep(model, { batch, height: size, width: size, loss: 'crossEntropy', optimizer: 'sgd', trainable: () => true });
  process.stderr.write(`compiled: ${step.nodeCount} nodes, ${(step.bytes.length / 1e6).toFixed(1)} MB, ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
  for (const threads of opts.threads.split(',').map(Number)) {
    const t1 = performance.now();
    const session = await createTrainSession(ort, step, threads);
    process.stderr.write(`session (${threads}t): ${((performance.now() - t1) / 1000).toFixed(2)} s\n`);
    let state = initialTrainState(ort, model, step);
    let spare = initialTrainState(ort, model, step); // double-buffered, as the engine runs it
    const imageTensor = new ort.Tensor('float32', images, [batch, size, size, 3]);
    const seconds = await time(`onnxruntime ${threads}t`, async () => {
      const prev = state;
      state = (await trainStepOrt(ort, session, step, state, { images: imageTensor, labels }, { groups: [{ lr: 0.01, mom: 0.9, wd: 0 }] }, spare)).state;
      spare = prev;
    });
    rows.push({ engine: `onnxruntime ${threads}t (compiled step)`, seconds });
    await session.release();
  }

  if (!opts['no-tfjs']) {
    useFastTraining(model);
    const x = tf.tensor4d(images, [batch, size, size, 3]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 1000);
    const optimizer = tf.train.momentum(0.01, 0.9);
    const seconds = await time('tfjs-wasm', async () => {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      await loss.data();
      loss.dispose();
    });
    rows.push({ engine: 'tfjs-wasm (fastvision today)', seconds });
    tf.dispose([x, y]);
    optimizer.dispose();
  }
  model.dispose();

  let torchBest: number | undefined;
  if (!opts['no-torch']) {
    const script = fileURLToPath(new URL('./torch_bench.py', import.meta.url));
    for (const threads of [1, 2]) {
      try {
        const out = execFileSync('/usr/bin/python3', [script, '--nets', net, '--batch', String(batch), '--size', String(size), '--steps', String(steps), '--warmup', String(warmup), '--threads', String(threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
        const train = out.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.task === 'train');
        rows.push({ engine: `pytorch ${threads}t`, seconds: train.seconds });
        torchBest = Math.min(torchBest ?? Infinity, train.seconds);
      } catch (err) {
        process.stderr.write(`pytorch ${threads}t not run: ${(err as Error).message.split('\n')[0]}\n`);
      }
    }
  }

  tables.push(`\n### ${net} training step, batch ${batch}, ${size} px, median of ${steps} after ${warmup} warm-up\n`, "| engine | img/s | s/step | ratio to PyTorch's best |", '|---|---:|---:|---:|');
  for (const r of rows) tables.push(`| ${r.engine} | ${(batch / r.seconds).toFixed(1)} | ${r.seconds.toFixed(3)} | ${torchBest ? (torchBest / r.seconds).toFixed(2) : ''} |`);
}
console.log(tables.join('\n'));
