/**
 * `npm run bench`: images/s of one training step (forward + backward + SGD update)
 * and of inference, for ResNet-18 and MobileNetV2, on each tfjs backend, against
 * PyTorch CPU measured in the same run where Debian's python3-torch is installed.
 *
 *   npm run bench -- --backends wasm,cpu --steps 5 --warmup 1 --batch 16 --size 128
 *   npm run bench -- --backend webgpu                 # with webgpu and @tensorflow/tfjs-backend-webgpu installed
 *   npm run bench -- --backend webgpu --swiftshader   # no GPU: Debian's SwiftShader (proves it runs, not speed)
 *
 * Default backends: every installed one except the pure-JS cpu backend, whose
 * training step takes minutes (ask for it with --backends).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '../src/core/tf.js';
import { backendInfo, backendSpecs, describeAdapter, initBackend, type BackendName } from '../src/index.js';
import { benchNet, benchNets, timeSteps, type BenchRow } from '../src/cli/bench.js';
import { ortPredict, releaseSession } from '../src/engine/ort/ortInference.js';
import { ortRuntime, setInferenceThreads } from '../src/engine/ort/ortRuntime.js';

const { values: opts } = parseArgs({
  options: {
    backends: { type: 'string' },
    /** One backend: `--backend webgpu` is `--backends webgpu`. */
    backend: { type: 'string' },
    /** webgpu on Debian's SwiftShader (Vulkan on the CPU) when the machine has no GPU: proves it runs, says nothing of GPU speed. */
    swiftshader: { type: 'boolean', default: false },
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
const settings = {
  steps: Number(opts.steps),
  warmup: Number(opts.warmup),
  batch: Number(opts.batch),
  size: Number(opts.size),
  onStep: (label: string, step: number, s: number) => process.stderr.write(`  ${label}: step ${step}/${opts.steps} ${s.toFixed(2)} s\n`),
};
const { steps, warmup, batch, size } = settings;
const nets = opts.nets.split(',');
for (const n of nets) if (!benchNets[n]) throw new Error(`--nets: unknown net '${n}'; expected ${Object.keys(benchNets).join(', ')}`);

let backendsRun: BackendName[] = [];

async function benchBackend(name: BackendName): Promise<BenchRow[]> {
  await initBackend({ backend: name });
  const rows: BenchRow[] = [];
  for (const net of nets) {
    // What a Learner trains, and getPreds/validation run on tfjs: convolutions with BatchNorm folded in.
    rows.push(...(await benchNet(net, { ...settings, inference: 'tfjs', stock: opts.stock })).map((r) => ({ ...r, backend: name })));
    // ONNX Runtime, which runs fastvision's inference when installed: once, with the first backend.
    const ort = ortRuntime();
    if (ort.ok && name === backendsRun[0]) {
      const model = benchNets[net]!();
      const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
      for (const threads of [...new Set([1, os.availableParallelism()])]) {
        setInferenceThreads(threads);
        const onOrt = async () => {
          const out = await ortPredict(ort.ort, model, x);
          await out.data();
          out.dispose();
        };
        rows.push({ net, task: 'inference', backend: `onnxruntime ${threads}t`, seconds: await timeSteps(onOrt, `onnxruntime ${threads}t ${net} inference`, settings) });
      }
      setInferenceThreads(undefined);
      releaseSession(model);
      x.dispose();
      model.dispose();
    }
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
function benchTorch(): { rows: BenchRow[]; version: string } {
  const script = fileURLToPath(new URL('./torch_bench.py', import.meta.url));
  const rows: BenchRow[] = [];
  let version = '';
  for (const threads of [1, 2]) {
    const out = execFileSync(
      '/usr/bin/python3',
      [script, '--nets', nets.join(','), '--batch', String(batch), '--size', String(size), '--steps', String(steps), '--warmup', String(warmup), '--threads', String(threads)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    version = `PyTorch ${lines.find((l) => 'torch' in l).torch}, 1 and 2 threads; ratios are to the faster of the two`;
    rows.push(...lines.filter((l) => 'net' in l).map((l) => ({ ...l, backend: `pytorch ${threads}t` }) as BenchRow));
  }
  return { rows, version };
}

function installedBackends(): BackendName[] {
  const wanted = (opts.backends ?? opts.backend)?.split(',') as BackendName[] | undefined;
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
  if (opts.swiftshader) {
    // The test suite's set-up: SwiftShader's Vulkan driver, and the peers from the npm registry when the project lacks them.
    const { useSwiftShader, useWebgpuPeers } = await import('../test/helpers/webgpu.js');
    if (!useSwiftShader()) throw new Error('--swiftshader needs Debian\'s chromium (apt-get install chromium)');
    try {
      import.meta.resolve('@tensorflow/tfjs-backend-webgpu');
    } catch {
      useWebgpuPeers();
    }
  }
  backendsRun = backends;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const b of backends) {
    process.stderr.write(`backend ${b}\n`);
    rows.push(...(await benchBackend(b)));
    const info = backendInfo();
    const adapter = info.adapter ? `, adapter ${describeAdapter(info.adapter)}` : '';
    notes.push(`${b}: ${info.package} ${info.version}, simd ${info.simd ?? 'n/a'}, ${info.threads} thread(s)${adapter}${opts.stock ? ', stock tfjs-layers models (--stock)' : ''}`);
    if (info.adapter?.software) notes.push(`${b}: a software adapter computes on the CPU; its figures show that webgpu runs, not how fast a GPU is`);
  }
  let torchRows: BenchRow[] = [];
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
  if (!opts.backends && !opts.backend) console.log('- the cpu backend is left out by default (minutes per step); add it with --backends wasm,cpu');
}

await main();
