/**
 * One fastvision run of the end-to-end recipe, in a process of its own so that its
 * peak RSS is its own: prints one JSON line. Run by `npm run bench:e2e`.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { BnFreeze, Callback, DataLoaders, accuracy, backendInfo, initBackend, visionLearner } from '../src/index.js';
import { sessionStats } from '../src/engine/ort/ortInference.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    config: { type: 'string', default: 'default' },
    bs: { type: 'string', default: '32' },
    size: { type: 'string', default: '128' },
    'freeze-epochs': { type: 'string', default: '2' },
    epochs: { type: 'string', default: '2' },
    seed: { type: 'string', default: '42' },
  },
});
if (!opts.data) throw new Error('--data <dir> is required');
const cached = opts.config === 'cached';

/** Wall time of each epoch (training and validation). */
class EpochTimer extends Callback {
  times: number[] = [];
  /** Seconds of each epoch's validation pass (inference: ONNX Runtime or tfjs). */
  validTimes: number[] = [];
  private t0 = 0;
  private v0 = 0;
  override beforeEpoch(): void {
    this.t0 = performance.now();
  }
  override beforeValidate(): void {
    this.v0 = performance.now();
  }
  override afterValidate(): void {
    this.validTimes.push((performance.now() - this.v0) / 1000);
  }
  override afterEpoch(): void {
    this.times.push((performance.now() - this.t0) / 1000);
  }
}

await initBackend();
const t0 = performance.now();
const dls = await DataLoaders.fromCsv(join(opts.data, 'labels.csv'), {
  path: opts.data,
  fnCol: 'fn',
  labelCol: 'label',
  validCol: 'is_valid',
  size: Number(opts.size),
  bs: Number(opts.bs),
  seed: Number(opts.seed),
});
const timer = new EpochTimer();
const learn = await visionLearner(dls, 'resnet18', {
  pretrained: false,
  metrics: [accuracy],
  cbs: cached ? [timer, new BnFreeze()] : [timer],
  trainBn: !cached,
  logger: (line) => process.stderr.write(`${line}\n`),
});
const freezeEpochs = Number(opts['freeze-epochs']);
await learn.fineTune(Number(opts.epochs), 2e-3, { freezeEpochs });
const total = (performance.now() - t0) / 1000;
const frozen = timer.times.slice(0, freezeEpochs).reduce((a, b) => a + b, 0);
const unfrozen = timer.times.slice(freezeEpochs).reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    framework: 'fastvision',
    config: opts.config,
    backend: `${backendInfo().name}${backendInfo().simd ? ' simd' : ''}, ${backendInfo().threads} thread(s); inference: ${backendInfo().inference.engine}${backendInfo().inference.threads ? ` (${backendInfo().inference.threads} threads)` : ''}; training: ${backendInfo().training.engine}${backendInfo().training.threads ? ` (${backendInfo().training.threads} threads)` : ''}`,
    epochSeconds: timer.times,
    validSeconds: timer.validTimes,
    ortSessions: { ...sessionStats },
    frozenSeconds: frozen,
    unfrozenSeconds: unfrozen,
    totalSeconds: total,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    accuracy: learn.recorder.finalRecord!.at(-1),
    featureCache: learn.featureCache?.stats,
  }),
);
