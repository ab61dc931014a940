import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf, UsageError } from '../src/cli/errors.js';
import { FastvisionError, weightsLocation } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/images.js';
import { writePatterns } from './helpers/patterns.js';

const png = (file: string) => readFileSync(file).subarray(1, 4).toString('latin1');

describe('the fastvision command', () => {
  let data: string;
  let csv: string;
  let out: string;
  let cache: string;
  let images: string[];
  const env = () => ({ FASTVISION_CACHE: cache });

  beforeAll(async () => {
    const { dir, rows } = await writePatterns(32, 7);
    data = dir;
    // Named columns in a different order than fastai's defaults, to exercise --fn-col / --label-col.
    csv = join(data, 'labels.csv');
    writeFileSync(csv, `label,file\n${rows.map((r) => `${r.label},${r.fn}`).join('\n')}\n`);
    images = rows.slice(0, 3).map((r) => join(data, r.fn));
    cache = tempDir('fastvision-cli-cache-');
    out = join(tempDir('fastvision-cli-out-'), 'run');
  });

  it('has --help for every command, and lists the commands', () => {
    const top = runCli(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['info', 'train', 'lr-find', 'predict', 'interpret', 'bench']) {
      expect(top.stdout).toContain(`  ${cmd} `);
      const help = runCli([cmd, '--help']);
      expect(help.code, cmd).toBe(0);
      expect(help.stdout, cmd).toMatch(new RegExp(`^Usage: fastvision ${cmd}`));
    }
    expect(runCli(['train', '--help']).stdout).toMatch(/--pretrained <bool>/);
  });

  it('info reports the backend, the cache dir and which weights are cached', () => {
    const before = runCli(['info', '--json'], env());
    expect(before.code).toBe(0);
    const a = JSON.parse(before.stdout);
    expect(a.backend.name).toBe('wasm');
    expect(a.cache.dir).toBe(cache);
    expect(a.cache.offline).toBe(true);
    expect(a.weights.map((w: { arch: string }) => w.arch)).toEqual(['resnet18', 'resnet34', 'resnet50', 'mobilenetV2']);
    expect(a.weights.every((w: { cached: boolean }) => !w.cached)).toBe(true);

    // weightsLocation reads the cache dir from the environment, as the child process does.
    const prev = process.env.FASTVISION_CACHE;
    process.env.FASTVISION_CACHE = cache;
    const file = weightsLocation('resnet18').file;
    process.env.FASTVISION_CACHE = prev;
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, Buffer.alloc(1000));
    const text = runCli(['info'], env());
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`cache dir\\s+${cache}`));
    expect(text.stdout).toMatch(/weights resnet18\s+cached \(0\.0 MB\)/);
    expect(text.stdout).toMatch(/weights resnet34\s+not cached/);
  });

  it('bench measures training and inference on this machine and prints a table to paste', () => {
    const r = runCli(['bench', '--nets', 'resnet18', '--batch', '2', '--size', '32', '--steps', '2', '--warmup', '0'], env());
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('### fastvision bench: batch 2, 32 px, median of 2 after 0 warm-up');
    for (const task of ['train', 'inference']) expect(r.stdout).toMatch(new RegExp(`\\| resnet18 \\| ${task} \\| \\d+\\.\\d\\d \\| \\d+\\.\\d{3} \\|`));
    expect(r.stdout).toMatch(/- backend: wasm \(@tensorflow\/tfjs-backend-wasm [\d.]+\)/);
    expect(r.stdout).toMatch(/- adapter: n\/a/);
    expect(r.stdout).toMatch(/- training: the train rows time tfjs wasm; a Learner here trains on ONNX Runtime's compiled step/);
    expect(r.stderr).toMatch(/resnet18 train: step 2\/2/); // progress, on stderr
    const bad = runCli(['bench', '--nets', 'vgg16'], env());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--nets: unknown net 'vgg16'; expected resnet18, mobilenetV2/);
  });

  it('train fine-tunes, prints the epoch table and writes the export and pictures', () => {
    const r = runCli(
      ['train', '--csv', csv, '--fn-col', 'file', '--label-col', 'label', '--arch', 'resnet18', '--pretrained', 'false',
        '--size', '16', '--epochs', '1', '--bs', '4', '--lr-find-iters', '20', '--out', out],
      env(),
    );
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    // fine_tune prints two tables: the frozen epoch, then the unfrozen one.
    expect(r.stdout.match(/epoch\s+train_loss\s+valid_loss\s+error_rate\s+time/g)).toHaveLength(2);
    expect(r.stdout).toMatch(/LR finder(: valley \d\.\d\de-\d+ \(lr-find\.png\)| gave no suggestion; using fine_tune.s default 0\.002)/);
    expect(r.stdout).toMatch(/classes: dotted, striped/);
    expect(r.stdout).toMatch(/not caching body features: the frozen body's BatchNorm weights train \(trainBn: true\)/);
    expect(readdirSync(out).sort()).toEqual(['confusion-matrix.png', 'epochs.csv', 'loss.png', 'lr-find.png', 'model', 'report.txt', 'top-losses.png']);
    expect(readdirSync(join(out, 'model')).sort()).toEqual(['fastvision.json', expect.stringMatching(/^model\.[0-9a-f]{12}\.json$/), 'model.json', 'model.onnx', expect.stringMatching(/^weights\.[0-9a-f]{12}\.bin$/)]);
    for (const f of ['confusion-matrix.png', 'loss.png', 'lr-find.png', 'top-losses.png']) expect(png(join(out, f)), f).toBe('PNG');
    const epochs = readFileSync(join(out, 'epochs.csv'), 'utf8').trim().split('\n');
    expect(epochs[0]).toBe('epoch,train_loss,valid_loss,error_rate,time');
    expect(epochs).toHaveLength(3); // both phases of fine_tune
    expect(readFileSync(join(out, 'report.txt'), 'utf8')).toMatch(/precision\s+recall\s+f1-score\s+support/);
    const meta = JSON.parse(readFileSync(join(out, 'model', 'fastvision.json'), 'utf8'));
    expect(meta).toMatchObject({ vocab: ['dotted', 'striped'], arch: 'resnet18', resize: { height: 16, width: 16 } });
  });

  it('train --bn-freeze trains its frozen epoch on cached body features (no notice that it cannot)', () => {
    const r = runCli(
      ['train', '--csv', csv, '--fn-col', 'file', '--label-col', 'label', '--arch', 'resnet18', '--no-pretrained',
        '--size', '16', '--epochs', '1', '--freeze-epochs', '2', '--bs', '4', '--lr', '1e-3', '--bn-freeze', '--out', join(out, '..', 'bn-freeze')],
      env(),
    );
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/not caching body features/);
    expect(r.stdout.match(/epoch\s+train_loss/g)).toHaveLength(2);
  });

  it('lr-find prints the four suggestions and draws the curve', () => {
    const plot = join(out, '..', 'lr-find', 'curve.png');
    const r = runCli(
      ['lr-find', '--csv', csv, '--fn-col', 'file', '--label-col', 'label', '--arch', 'resnet18', '--no-pretrained', '--size', '16', '--bs', '4', '--num-it', '12', '--plot', plot],
      env(),
    );
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    for (const name of ['valley', 'slide', 'minimum', 'steep']) expect(r.stdout).toMatch(new RegExp(`^${name}\\s+(\\d\\.\\d\\de-\\d+|none)`, 'm'));
    expect(png(plot)).toBe('PNG');
  });

  it('predict prints one JSON line per image, or a CSV table', () => {
    const r = runCli(['predict', '--model', join(out, 'model'), ...images], env());
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.file)).toEqual(images);
    for (const l of lines) {
      expect(['dotted', 'striped']).toContain(l.label);
      expect(Object.keys(l.probs)).toEqual(['dotted', 'striped']);
      expect(l.probs.dotted + l.probs.striped).toBeCloseTo(1, 5);
      expect(l.label).toBe(l.probs.dotted >= l.probs.striped ? 'dotted' : 'striped');
    }
    const table = runCli(['predict', '--csv', '--model', join(out, 'model'), ...images], env());
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]).toBe('file,label,dotted,striped');
    expect(rows.slice(1).map((row) => row.split(',')[1])).toEqual(lines.map((l) => l.label));
  });

  it('interpret writes the confusion matrix, top losses and report for a labelled CSV', () => {
    const dir = join(out, 'interp');
    const r = runCli(['interpret', '--model', join(out, 'model'), '--csv', csv, '--fn-col', 'file', '--label-col', '0', '--out', dir, '--top-losses', '4'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^32 images; accuracy \d+\.\d%/);
    expect(r.stdout).toMatch(/support\n\n\s+dotted .* 16\n\s+striped .* 16\n/);
    expect(readdirSync(dir).sort()).toEqual(['confusion-matrix.png', 'report.txt', 'top-losses.png']);
    for (const f of ['confusion-matrix.png', 'top-losses.png']) expect(png(join(dir, f)), f).toBe('PNG');
  });

  it.each([
    ['a bad --csv path', ['train', '--csv', '/nonexistent/labels.csv', '--out', 'x'], /--csv \/nonexistent\/labels\.csv: no such file/],
    ['a bad --size', ['train', '--csv', 'CSV', '--out', 'x', '--size', 'big'], /--size must be a number, got 'big'/],
    ['a --valid-pct outside (0, 1)', ['train', '--csv', 'CSV', '--out', 'x', '--valid-pct', '1.5'], /--valid-pct must be < 1, got '1\.5'/],
    ['an unknown --arch', ['train', '--csv', 'CSV', '--out', 'x', '--arch', 'vgg16'], /--arch must be one of resnet18, resnet34, resnet50, mobilenetV2, got 'vgg16'/],
    ['no --out', ['train', '--csv', 'CSV'], /--out is required/],
    ['an unknown option', ['train', '--csv', 'CSV', '--out', 'x', '--epoch', '3'], /Unknown option '--epoch'/],
    ['an unknown column (train)', ['train', '--csv', 'CSV', '--fn-col', 'image', '--out', 'x'], /--fn-col 'image' is not a column of .*labels\.csv; its columns are: 'label', 'file'/],
    ['an unknown column', ['interpret', '--model', 'MODEL', '--csv', 'CSV', '--label-col', 'genre', '--out', 'x'], /--label-col 'genre' is not a column of .*labels\.csv; its columns are: 'label', 'file'/],
    ['a missing image', ['predict', '--model', 'MODEL', '/nonexistent/cover.jpg'], /no such image or folder: \/nonexistent\/cover\.jpg/],
    ['a missing model', ['predict', '--model', '/nonexistent/model', 'x.png'], /--model \/nonexistent\/model: no such directory/],
    ['an unknown command', ['trian'], /unknown command 'trian'/],
    ['a batch larger than the training set', ['train', '--csv', 'CSV', '--fn-col', 'file', '--label-col', 'label', '--arch', 'resnet18', '--pretrained', 'false', '--size', '16', '--out', 'OUT'], /the training set has 26 images, fewer than one batch of 64 .*use a batch size of at most 26 \(bs\)/],
  ])('%s is a user error: exit 1 and a message naming it', (_, args, message) => {
    const r = runCli(args.map((a) => (a === 'CSV' ? csv : a === 'MODEL' ? join(out, 'model') : a === 'OUT' ? join(out, '..', 'bs64') : a)), env());
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^fastvision: /);
    expect(r.code).toBe(1);
  });

  it('pretrained weights missing while offline is a user error saying where to put them', () => {
    const r = runCli(['train', '--csv', csv, '--fn-col', 'file', '--label-col', 'label', '--arch', 'resnet34', '--size', '16', '--bs', '4', '--out', join(out, 'offline')], env());
    expect(r.stderr).toMatch(/offline \(FASTVISION_OFFLINE\) and .*resnet34\.tv_in1k.*model\.safetensors is not cached\. Download https:\/\/huggingface\.co\/timm\/resnet34\.tv_in1k/);
    expect(r.code).toBe(1);
  });

  it('tells user errors (1) from internal ones (2)', () => {
    expect(exitCodeOf(new UsageError('--size must be a number'))).toBe(1);
    expect(exitCodeOf(new FastvisionError('BAD_DATA', "cannot read CSV 'x.csv'"))).toBe(1);
    // A plain Error is a bug, whatever its message says.
    expect(exitCodeOf(new Error("fastvision: cannot read CSV 'x.csv'"))).toBe(2);
    expect(exitCodeOf(new TypeError("Cannot read properties of undefined (reading 'shape')"))).toBe(2);
    expect(exitCodeOf('a string')).toBe(2);
  });
});
