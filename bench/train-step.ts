/**
 * `npm run bench`: images/s of one training step (forward + backward + SGD update)
 * and of inference, for ResNet-18 and MobileNetV2, on each tfjs backend, against
 * PyTorch CPU measured in the same run where Debian's python3-torch is installed.
 *
 *   npm run bench -- --backends wasm,cpu --steps 5 --warmup 1 --batch 16 --size 128
 *
 * Default backends: every installed one except the pure-JS cpu backend, whose
 * training step takes minutes (ask for it with --backends).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '../src/core/tf.js';
import { backendInfo, backendSpecs, initBackend, type BackendName } from '../src/index.js';
import { buildMobilenetV2 } from '../src/vision/archs/mobilenetV2.js';
import { buildResnet, resnetConfigs } from '../src/vision/archs/resnet.js';
import { useFastTraining } from '../src/engine/tfjs/fastTraining.js';
import { FusedInference } from '../src/engine/tfjs/fusedInference.js';
import { ortPredict, releaseSession } from '../src/engine/ort/ortInference.js';
import { ortRuntime, setInferenceThreads } from '../src/engine/ort/ortRuntime.js';

const { values: opts } = parseArgs({
  options: {
    backends: { type: 'string' },
    nets: { type: 'string', default: 'resnet18,mobilenetV2' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    batch: { type: 'string', default: '16' },
    size: { type: 'string', default: '128' },
    torch: { type: 'boolean', default: true },
    'no-torch': { type: 'boolean', default: false },
    /** Plain tfjs-layers models, without the model-level speed-ups a Learner applies. */
    stock: { type: 'boolean', default: false },
  },
});
const steps = Number(opts.steps);
const warmup = Number(opts.warmup);
const batch = Number(opts.batch);
const size = Number(opts.size);
const nets = opts.nets.split(',');

const builders: Record<string, () => tf.LayersModel> = {
  resnet18: () => buildResnet(resnetConfigs.resnet18),
  mobilenetV2: () => buildMobilenetV2(),
};
for (const n of nets) if (!builders[n]) throw new Error(`--nets: unknown net '${n}'; expected ${Object.keys(builders).join(', ')}`);

type Task = 'train' | 'inference';
interface Row {
  net: string;
  task: Task;
  backend: string;
  seconds: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function timeSteps(fn: () => Promise<void>, label: string): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
    process.stderr.write(`  ${label}: step ${i + 1}/${steps} ${times.at(-1)!.toFixed(2)} s\n`);
  }
  return median(times);
}

let backendsRun: BackendName[] = [];

async function benchBackend(name: BackendName): Promise<Row[]> {
  await initBackend({ backend: name });
  const rows: Row[] = [];
  for (const net of nets) {
    const model = builders[net]!();
    // What a Learner does to its model before training.
    if (!opts.stock) useFastTraining(model);
    const x = tf.randomNormal([batch, size, size, 3]);
    const y = tf.oneHot(tf.randomUniform([batch], 0, 1000, 'int32') as tf.Tensor1D, 1000);
    const optimizer = tf.train.sgd(0.01);
    const trainStep = async () => {
      const loss = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        true,
      )!;
      await loss.data();
      loss.dispose();
    };
    // What getPreds and validation run: convolutions with BatchNorm folded in.
    const fused = opts.stock ? undefined : new FusedInference(model);
    const infer = async () => {
      const out = fused ? fused.predict(x) : (model.predict(x) as tf.Tensor);
      await out.data();
      out.dispose();
    };
    rows.push({ net, task: 'train', backend: name, seconds: await timeSteps(trainStep, `${name} ${net} train`) });
    rows.push({ net, task: 'inference', backend: name, seconds: await timeSteps(infer, `${name} ${net} inference`) });
    // ONNX Runtime, which runs fastvision's inference when installed: once, with the first backend.
    const ort = ortRuntime();
    if (ort.ok && name === backendsRun[0]) {
      for (const threads of [...new Set([1, os.availableParallelism()])]) {
        setInferenceThreads(threads);
        const onOrt = async () => {
          const out = await ortPredict(ort.ort, model, x as tf.Tensor4D);
          await out.data();
          out.dispose();
        };
        rows.push({ net, task: 'inference', backend: `onnxruntime ${threads}t`, seconds: await timeSteps(onOrt, `onnxruntime ${threads}t ${net} inference`) });
      }
      setInferenceThreads(undefined);
      releaseSession(model);
    }
    tf.dispose([x, y]);
    optimizer.dispose();
    fused?.dispose();
    model.dispose();
  }
  return rows;
}

function torchAvailable(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
}

/**
 * PyTorch with 1 and with 2 threads. On a shared 2-core machine its 2-thread runs slow
 * down several-fold whenever anything else runs, so the reference for each task is the
 * faster of the two (the harder one to match).
 */
function benchTorch(): { rows: Row[]; version: string } {
  const script = fileURLToPath(new URL('./torch_bench.py', import.meta.url));
  const rows: Row[] = [];
  let version = '';
  for (const threads of [1, 2]) {
    const out = execFileSync(
      '/usr/bin/python3',
      [script, '--nets', nets.join(','), '--batch', String(batch), '--size', String(size), '--steps', String(steps), '--warmup', String(warmup), '--threads', String(threads)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    version = `PyTorch ${lines.find((l) => 'torch' in l).torch}, 1 and 2 threads; ratios are to the faster of the two`;
    rows.push(...lines.filter((l) => 'net' in l).map((l) => ({ ...l, backend: `pytorch ${threads}t` }) as Row));
  }
  return { rows, version };
}

function installedBackends(): BackendName[] {
  const wanted = opts.backends?.split(',') as BackendName[] | undefined;
  if (wanted) return wanted;
  return (Object.keys(backendSpecs) as BackendName[]).filter((b) => {
    if (b === 'cpu') return false;
    try {
      import.meta.resolve(backendSpecs[b].package);
      return true;
    } catch {
      return false;
    }
  });
}

async function main() {
  const backends = installedBackends();
  backendsRun = backends;
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const b of backends) {
    process.stderr.write(`backend ${b}\n`);
    rows.push(...(await benchBackend(b)));
    const info = backendInfo();
    notes.push(`${b}: ${info.package} ${info.version}, simd ${info.simd ?? 'n/a'}, ${info.threads} thread(s)${opts.stock ? ', stock tfjs-layers models (--stock)' : ''}`);
  }
  let torchRows: Row[] = [];
  if (opts.torch && !opts['no-torch'] && torchAvailable()) {
    process.stderr.write('pytorch\n');
    const t = benchTorch();
    torchRows = t.rows;
    notes.push(t.version);
  } else {
    notes.push('PyTorch not run (needs /usr/bin/python3 with torch and torchvision: apt-get install python3-torch python3-torchvision)');
  }
  const ips = (s: number) => batch / s;
  console.log(`\n### One step, batch ${batch}, ${size} px, median of ${steps} after ${warmup} warm-up\n`);
  console.log('| net | task | backend | img/s | s/step | PyTorch img/s | ratio to PyTorch |');
  console.log('|---|---|---|---:|---:|---:|---:|');
  for (const r of [...rows, ...torchRows]) {
    const refs = torchRows.filter((t) => t.net === r.net && t.task === r.task);
    const ref = refs.length ? refs.reduce((a, b) => (a.seconds <= b.seconds ? a : b)) : undefined;
    const isTorch = r.backend.startsWith('pytorch');
    const ratio = ref && !isTorch ? (ref.seconds / r.seconds).toFixed(2) : '';
    console.log(
      `| ${r.net} | ${r.task} | ${r.backend} | ${ips(r.seconds).toFixed(2)} | ${r.seconds.toFixed(3)} | ${ref && !isTorch ? ips(ref.seconds).toFixed(2) : ''} | ${ratio} |`,
    );
  }
  console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
  if (!opts.backends) console.log('- the cpu backend is left out by default (minutes per step); add it with --backends wasm,cpu');
}

await main();
