import { statSync } from 'node:fs';
import { backendInfo, backendSpecs, env, initBackend, pretrainedConfigs, version, weightsLocation, type ArchName, type BackendName } from '../index.js';
import { choice, parse } from './args.js';
import { describeAdapter } from '../engine/webgpu/webgpuRuntime.js';

export const infoUsage = `Usage: fastvision info [--backend gpu|webgpu|node|wasm|cpu] [--json]

Starts the best tfjs backend that is installed and works (or the one forced by
--backend or FASTVISION_BACKEND) and prints what it is, what its self-check found,
which engine runs inference (ONNX Runtime, or tfjs with FASTVISION_INFERENCE=tfjs)
and which trains (the step compiled to ONNX on ONNX Runtime, or the tfjs backend),
which speed-ups fastvision uses on it, where pretrained weights are cached
(FASTVISION_CACHE) and which architectures' weights are already there.

Options:
  --backend <name>  Force a backend instead of the best available
  --json            Print JSON instead of text
  -h, --help        Show this help
`;

/** Each architecture's weight file and whether it is in the cache (by presence; it is checked when loaded). */
function weightsStatus(): { arch: ArchName; file: string; cached: boolean; bytes: number | null }[] {
  return (Object.keys(pretrainedConfigs) as ArchName[]).map((arch) => {
    const { file } = weightsLocation(arch);
    let bytes: number | null = null;
    try {
      bytes = statSync(file).size;
    } catch {
      // not cached
    }
    return { arch, file, cached: bytes != null, bytes };
  });
}

export async function info(args: string[]): Promise<void> {
  const { values } = parse(args, { backend: { type: 'string' }, json: { type: 'boolean' } }, infoUsage);
  if (values.help) return void process.stdout.write(infoUsage);
  const forced = values.backend == null ? undefined : choice(values.backend, 'backend', Object.keys(backendSpecs) as BackendName[], 'wasm');
  await initBackend(forced ? { backend: forced } : {});
  const b = backendInfo();
  const weights = weightsStatus();
  const cache = { dir: env.cacheDir, offline: env.offline, hubUrl: env.hubUrl };
  if (values.json) return void process.stdout.write(`${JSON.stringify({ version, node: process.version, backend: b, cache, weights }, null, 2)}\n`);
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const rows: [string, string][] = [
    ['fastvision', version],
    ['node', process.version],
    ['backend', `${b.name} (${b.package} ${b.version})`],
    ['chosen because', b.reason],
    ['self-check', `${b.selfCheck} (a convolution, pool and depthwise convolution, forward and backward, read back)`],
    ['speed-ups', b.speedUps],
    ['simd', b.simd == null ? 'n/a' : String(b.simd)],
    ['threads', String(b.threads)],
    ['gpu', String(b.gpu)],
    ['adapter', b.adapter ? describeAdapter(b.adapter) : 'n/a (not webgpu)'],
    ['inference', b.inference.engine === 'ort' ? `ONNX Runtime (onnxruntime-node ${b.inference.version}, ${b.inference.threads} threads): ${b.inference.reason}` : `tfjs: ${b.inference.reason}`],
    ['training', b.training.engine === 'ort' ? `ONNX Runtime, compiled step (onnxruntime-node ${b.training.version}, ${b.training.threads} threads; self-check ${b.training.selfCheck}): ${b.training.reason}` : `tfjs ${b.name}: ${b.training.reason}`],
    ['cache dir', cache.dir],
    ['offline', String(cache.offline)],
    ['model hub', cache.hubUrl],
    ...weights.map(({ arch, cached, bytes }): [string, string] => [`weights ${arch}`, cached ? `cached (${mb(bytes!)})` : 'not cached (downloaded on first use)']),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
}
