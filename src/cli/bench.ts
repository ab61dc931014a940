import * as tf from '../core/tf.js';
import { backendInfo, backendSpecs, initBackend, version, type BackendName } from '../index.js';
import { inferenceRunner } from '../engine/inference.js';
import { useFastTraining } from '../engine/tfjs/fastTraining.js';
import { describeAdapter } from '../engine/webgpu/webgpuRuntime.js';
import { buildMobilenetV2 } from '../vision/archs/mobilenetV2.js';
import { buildResnet, resnetConfigs } from '../vision/archs/resnet.js';
import { choice, numberOption, parse } from './args.js';
import { UsageError } from './errors.js';

export const benchUsage = `Usage: fastvision bench [--backend gpu|webgpu|node|wasm|cpu] [--nets resnet18,mobilenetV2]
                       [--batch 16] [--size 128] [--steps 5] [--warmup 1] [--json]

Measures this machine: images per second of one training step (forward, backward and
an SGD update, with the speed-ups a Learner uses) and of inference (on the engine
fastvision picks for it), for ResNet-18 and MobileNetV2 with random weights and 1000
classes, on the backend fastvision picks (or --backend / FASTVISION_BACKEND). Reports
the median of --steps after --warmup, and prints a Markdown table with the backend,
its GPU adapter (webgpu) and threads: paste it into an issue. Nothing is downloaded.

Options:
  --backend <name>  Force a backend instead of the best available
  --nets <list>     Comma-separated: resnet18, mobilenetV2 (default both)
  --batch <n>       Images per step (default 16)
  --size <px>       Image size (default 128)
  --steps <n>       Timed steps (default 5)
  --warmup <n>      Untimed steps first: shader compilation, allocation (default 1)
  --json            Print JSON instead of Markdown
  -h, --help        Show this help
`;

/** The nets `fastvision bench` and `npm run bench` measure. */
export const benchNets: Record<string, () => tf.LayersModel> = {
  resnet18: () => buildResnet(resnetConfigs.resnet18),
  mobilenetV2: () => buildMobilenetV2(),
};

export interface BenchSettings {
  batch: number;
  size: number;
  steps: number;
  warmup: number;
  /** Called after each timed step (progress). */
  onStep?: (label: string, step: number, seconds: number) => void;
}

/** One measured row: seconds per step (median). */
export interface BenchRow {
  net: string;
  task: 'train' | 'inference';
  backend: string;
  seconds: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The median seconds of `fn` over `steps` calls after `warmup` untimed ones. */
export async function timeSteps(fn: () => Promise<void>, label: string, o: BenchSettings): Promise<number> {
  for (let i = 0; i < o.warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < o.steps; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
    o.onStep?.(label, i + 1, times.at(-1)!);
  }
  return median(times);
}

/**
 * A training step and an inference pass of `net` on the active backend, as a Learner
 * runs them (its model-level speed-ups; inference on the engine `inferenceRunner` picks,
 * unless `inference: 'tfjs'`; `stock`: neither). Every read is asynchronous, so it runs on webgpu.
 */
export async function benchNet(net: string, o: BenchSettings & { inference?: 'tfjs'; stock?: boolean }): Promise<BenchRow[]> {
  const backend = tf.getBackend();
  const model = benchNets[net]!();
  // `stock`: plain tfjs-layers, without fastvision's speed-ups (for comparison).
  if (!o.stock) useFastTraining(model);
  const x = tf.randomNormal([o.batch, o.size, o.size, 3]) as tf.Tensor4D;
  const y = tf.tidy(() => tf.oneHot(tf.randomUniform([o.batch], 0, 1000, 'int32') as tf.Tensor1D, 1000));
  const optimizer = tf.train.sgd(0.01);
  const runner = inferenceRunner(model, { ...(o.inference ? { engine: o.inference } : {}), fused: !o.stock });
  try {
    const train = async () => {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      await loss.data();
      loss.dispose();
    };
    const infer = async () => {
      const out = await runner.run(x);
      await out.data();
      out.dispose();
    };
    return [
      { net, task: 'train', backend, seconds: await timeSteps(train, `${net} train`, o) },
      { net, task: 'inference', backend, seconds: await timeSteps(infer, `${net} inference`, o) },
    ];
  } finally {
    runner.dispose();
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  }
}

export async function bench(args: string[]): Promise<void> {
  const { values } = parse(
    args,
    { backend: { type: 'string' }, nets: { type: 'string' }, batch: { type: 'string' }, size: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' }, json: { type: 'boolean' } },
    benchUsage,
  );
  if (values.help) return void process.stdout.write(benchUsage);
  const forced = values.backend == null ? undefined : choice(values.backend, 'backend', Object.keys(backendSpecs) as BackendName[], 'wasm');
  const nets = (values.nets ?? 'resnet18,mobilenetV2').split(',');
  for (const n of nets) if (!benchNets[n]) throw new UsageError(`--nets: unknown net '${n}'; expected ${Object.keys(benchNets).join(', ')}`);
  const settings: BenchSettings = {
    batch: numberOption(values.batch, 'batch', 16, { integer: true, min: 1 }),
    size: numberOption(values.size, 'size', 128, { integer: true, min: 32 }),
    steps: numberOption(values.steps, 'steps', 5, { integer: true, min: 1 }),
    warmup: numberOption(values.warmup, 'warmup', 1, { integer: true, min: 0 }),
    onStep: (label, step, s) => process.stderr.write(`  ${label}: step ${step}/${settings.steps} ${s.toFixed(2)} s\n`),
  };
  await initBackend(forced ? { backend: forced } : {});
  const rows: BenchRow[] = [];
  for (const net of nets) rows.push(...(await benchNet(net, settings)));
  const b = backendInfo();
  const machine = {
    fastvision: version,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    backend: `${b.name} (${b.package} ${b.version})`,
    threads: b.threads,
    adapter: b.adapter ? describeAdapter(b.adapter) : null,
    inference: b.inference.engine === 'ort' ? `ONNX Runtime ${b.inference.version}, ${b.inference.threads} threads` : `tfjs ${b.name}`,
    // The train rows time tfjs's step; where a Learner trains on the compiled ONNX step, say so.
    training: b.training.engine === 'ort' ? `the train rows time tfjs ${b.name}; a Learner here trains on ONNX Runtime's compiled step (npm run bench:onnx-train in a clone)` : `tfjs ${b.name}`,
  };
  const imgPerS = (r: BenchRow) => settings.batch / r.seconds;
  if (values.json) return void process.stdout.write(`${JSON.stringify({ machine, settings: { ...settings, onStep: undefined }, rows: rows.map((r) => ({ ...r, imagesPerSecond: imgPerS(r) })) }, null, 2)}\n`);
  const lines = [
    `### fastvision bench: batch ${settings.batch}, ${settings.size} px, median of ${settings.steps} after ${settings.warmup} warm-up`,
    '',
    '| net | task | img/s | s/step |',
    '|---|---|---:|---:|',
    ...rows.map((r) => `| ${r.net} | ${r.task} | ${imgPerS(r).toFixed(2)} | ${r.seconds.toFixed(3)} |`),
    '',
    ...Object.entries(machine).map(([k, v]) => `- ${k}: ${v ?? 'n/a'}`),
  ];
  if (b.adapter?.software) lines.push('- a software adapter computes on the CPU: these figures show that webgpu runs, not how fast a GPU is');
  process.stdout.write(`${lines.join('\n')}\n`);
}
