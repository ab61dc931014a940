import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { env, initBackend } from '../src/index.js';
import { tempDir, writeImage } from './helpers/images.js';
import { writePatterns } from './helpers/patterns.js';
import { cacheRandomWeights } from './helpers/torchWeights.js';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The first ```ts block after the "## Quick start" heading. */
function quickStart(): string {
  const section = readme.split(/^## Quick start$/m)[1];
  const block = section?.match(/```ts\n([\s\S]*?)```/);
  if (!block) throw new Error('README.md has no ```ts block under "## Quick start"');
  return block[1]!;
}

/**
 * What the README says the test changes, and nothing else: smaller numbers, so the
 * recipe runs in about a minute on a CPU. Each must match, or the README and this
 * list have drifted apart.
 */
const smaller: [RegExp, string][] = [
  [/size: 224/g, 'size: 16'],
  [/bs: 64/g, 'bs: 4'],
  [/withSize\(320\)/g, 'withSize(24)'],
  [/fitOneCycle\(5, /g, 'fitOneCycle(1, '],
  [/lrFind\(\{ /g, 'lrFind({ numIt: 12, '],
];

describe("the README's quick start", () => {
  let cwd: string;
  let script: string;

  beforeAll(async () => {
    // data/labels.csv (image_name,label) and data/<images>, as the block's comment describes.
    const { dir, rows } = await writePatterns(20, 11);
    cwd = tempDir('fastvision-readme-');
    renameSync(dir, join(cwd, 'data'));
    writeFileSync(join(cwd, 'data', 'labels.csv'), `image_name,label\n${rows.map((r) => `${r.fn},${r.label}`).join('\n')}\n`);
    await writeImage(join(cwd, 'cover.jpg'), { width: 40, height: 30, halves: [[250, 250, 250], [10, 10, 10]], format: 'jpeg' });
    // ResNet-34 in the hub's format, random weights, in a private cache: the block's
    // visionLearner(dls, resnet34) loads it through the real download path, offline.
    await initBackend({ backend: 'wasm' });
    const prev = env.cacheDir;
    env.cacheDir = join(cwd, 'cache');
    cacheRandomWeights('resnet34');
    env.cacheDir = prev;

    let code = quickStart();
    for (const [pattern, replacement] of smaller) {
      expect(code, `README quick start: ${pattern}`).toMatch(pattern);
      code = code.replace(pattern, replacement);
    }
    script = join(cwd, 'train.mts');
    writeFileSync(script, code);
  }, 180_000);

  it('type-checks as printed, against the real API (strict, as the repo compiles)', () => {
    const file = join(root, 'test', '.readme-quick-start.ts');
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
    const host = ts.createCompilerHost(config.options);
    const read = host.readFile;
    // The block as a module of its own (top-level await needs one), never written to disk.
    host.readFile = (f) => (f === file ? `${quickStart()}\nexport {};\n` : read(f));
    host.fileExists = ((exists) => (f: string) => f === file || exists(f))(host.fileExists);
    const program = ts.createProgram([file], { ...config.options, noEmit: true }, host);
    const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(errors).toEqual([]);
  });

  it('runs as a script and leaves what it says: pictures, the export, a prediction', () => {
    const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    // `paths` in the repo's tsconfig map 'fastvision' to src/index.ts (the packaging test covers the built package).
    const r = spawnSync(process.execPath, [tsx, '--tsconfig', join(root, 'tsconfig.json'), script], {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, FASTVISION_CACHE: join(cwd, 'cache'), FASTVISION_OFFLINE: '1', FASTVISION_BACKEND: '' },
      timeout: 600_000,
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    // initBackend() chose wasm, not tfjs's pure-JS default (which greets Node users with this).
    expect(r.stdout).not.toMatch(/looks like you are running TensorFlow\.js in Node\.js/);
    // Three fitOneCycle calls, three epoch tables.
    expect(r.stdout.match(/epoch\s+train_loss\s+valid_loss\s+error_rate\s+time/g)).toHaveLength(3);
    for (const f of ['batch.png', 'lr-find.png', 'confusion-matrix.png', 'top-losses.png']) {
      expect(existsSync(join(cwd, f)), f).toBe(true);
      expect(readFileSync(join(cwd, f)).subarray(1, 4).toString('latin1'), f).toBe('PNG');
    }
    for (const f of ['model.json', 'fastvision.json']) expect(existsSync(join(cwd, 'models/my-classifier', f)), f).toBe(true);
    const meta = JSON.parse(readFileSync(join(cwd, 'models/my-classifier/fastvision.json'), 'utf8'));
    expect(meta).toMatchObject({ arch: 'resnet34', vocab: ['dotted', 'striped'], resize: { height: 24, width: 24 } });
    // The last line is console.log(label, probs).
    const last = r.stdout.trim().split('\n').at(-1)!;
    const m = last.match(/^(dotted|striped) \[ ([\d.e-]+), ([\d.e-]+) \]$/);
    expect(m, last).not.toBeNull();
    expect(Number(m![2]) + Number(m![3])).toBeCloseTo(1, 5);
  });
});
