/**
 * `npm run bench:e2e`: fastai's fine_tune recipe end to end — 2 frozen epochs, then 2
 * unfrozen — on a generated 1,000-image two-class dataset at 128 px, in fastvision
 * (this machine's best backend) and in plain PyTorch (bench/torch_e2e.py, Debian's
 * /usr/bin/python3), with the same model, head, optimizer, schedules, batch size,
 * split and seed. Prints wall time per phase, peak RSS and final accuracy, and ratios.
 *
 *   npm run bench:e2e -- [--configs default,cached] [--training tfjs,ort] [--inference tfjs,ort] [--images 1000] [--size 128] [--bs 32]
 *
 * Configurations: `default` is fastai's (BatchNorm in the frozen body keeps training);
 * `cached` adds `trainBn: false` and BnFreeze on both sides, which lets fastvision
 * train the frozen epochs on cached body features (PyTorch/fastai has no such cache).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { e2eDataset } from './e2e-data.js';

const { values: opts } = parseArgs({
  options: {
    configs: { type: 'string', default: 'default,cached' },
    images: { type: 'string', default: '1000' },
    size: { type: 'string', default: '128' },
    bs: { type: 'string', default: '32' },
    seed: { type: 'string', default: '42' },
    'no-torch': { type: 'boolean', default: false },
    // fastvision's inference engines to run each config with: before (tfjs) and after (ONNX Runtime).
    inference: { type: 'string', default: 'ort' },
    // And its training engines: tfjs (before) and the step compiled to ONNX on ONNX Runtime (after).
    training: { type: 'string', default: 'tfjs,ort' },
  },
});

interface Run {
  framework: string;
  config: string;
  backend: string;
  epochSeconds: number[];
  frozenSeconds: number;
  unfrozenSeconds: number;
  totalSeconds: number;
  peakRssMB: number;
  accuracy: number;
  validSeconds?: number[];
  ortSessions?: { builds: number; seconds: number; runs: number };
}

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const data = await e2eDataset(join(here('.'), 'results'), Number(opts.images), Number(opts.size), Number(opts.seed));
const common = ['--data', data, '--bs', opts.bs, '--size', opts.size, '--seed', opts.seed];
const torch = !opts['no-torch'] && spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;

const runs: Run[] = [];
for (const config of opts.configs.split(',')) {
  for (const training of opts.training.split(','))
    for (const inference of opts.inference.split(',')) {
      process.stderr.write(`fastvision, ${config}, training on ${training}, inference on ${inference}\n`);
      const tsx = here('../node_modules/.bin/tsx');
      const env = { ...process.env, FASTVISION_INFERENCE: inference, FASTVISION_TRAINING: training };
      const out = execFileSync(tsx, [here('./e2e-fastvision.ts'), '--config', config, ...common], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
      const run = JSON.parse(out.trim().split('\n').at(-1)!) as Run;
      runs.push({ ...run, framework: `fastvision (training: ${training}, inference: ${inference})` });
    }
  if (torch) {
    process.stderr.write(`pytorch, ${config}\n`);
    const py = execFileSync('/usr/bin/python3', [here('./torch_e2e.py'), '--config', config, ...common], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    runs.push(JSON.parse(py.trim().split('\n').at(-1)!));
  }
}

const f = (x: number, d = 1) => x.toFixed(d);
console.log(`\n### End to end: resnet18 (random init) + fastai's head, fine_tune(2, freezeEpochs 2), ${opts.images} images at ${opts.size} px, bs ${opts.bs}\n`);
console.log('| config | framework | frozen epochs s | unfrozen epochs s | total s | s per epoch | peak RSS MB | valid accuracy |');
console.log('|---|---|---:|---:|---:|---|---:|---:|');
for (const r of runs) {
  console.log(`| ${r.config} | ${r.framework} | ${f(r.frozenSeconds)} | ${f(r.unfrozenSeconds)} | ${f(r.totalSeconds)} | ${r.epochSeconds.map((s) => f(s)).join(' / ')} | ${f(r.peakRssMB, 0)} | ${f(100 * r.accuracy)}% |`);
}
if (torch) {
  console.log('\n| config | wall time, PyTorch ÷ fastvision (higher is faster) | frozen | unfrozen | peak RSS, fastvision ÷ PyTorch | accuracy, fastvision − PyTorch |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const config of opts.configs.split(',')) {
    const b = runs.find((r) => r.config === config && r.framework === 'pytorch')!;
    for (const a of runs.filter((r) => r.config === config && r.framework.startsWith('fastvision'))) {
      console.log(`| ${config}, ${a.framework} | ${f(b.totalSeconds / a.totalSeconds, 2)} | ${f(b.frozenSeconds / a.frozenSeconds, 2)} | ${f(b.unfrozenSeconds / a.unfrozenSeconds, 2)} | ${f(a.peakRssMB / b.peakRssMB, 2)} | ${f(100 * (a.accuracy - b.accuracy))} pt |`);
    }
  }
}
console.log('\n| config | framework | validation s per epoch | validation share of each epoch | ONNX Runtime sessions built (s) |');
console.log('|---|---|---|---|---:|');
for (const r of runs.filter((x) => x.validSeconds)) {
  const share = r.validSeconds!.map((v, i) => `${f((100 * v) / r.epochSeconds[i]!, 0)}%`).join(' / ');
  const sessions = r.ortSessions?.builds ? `${r.ortSessions.builds} (${f(r.ortSessions.seconds)} s)` : '—';
  console.log(`| ${r.config} | ${r.framework} | ${r.validSeconds!.map((v) => f(v)).join(' / ')} | ${share} | ${sessions} |`);
}
console.log(`\n${[...new Set(runs.map((r) => `- ${r.framework}: ${r.backend}`))].join('\n')}`);
if (!torch) console.log('- PyTorch not run (needs /usr/bin/python3 with torch and torchvision: apt-get install python3-torch python3-torchvision)');
