import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  ClassificationInterpretation,
  CSVLogger,
  DataLoaders,
  backendInfo,
  errorRate,
  initBackend,
  pretrainedConfigs,
  readCsv,
  visionLearner,
  type ArchName,
  type BackendName,
} from '../index.js';
import { resolveColumn } from '../data/table.js';
import { booleanOption, choice, columnOption, existingDir, existingFile, numberOption, parse, required } from './args.js';
import { writeInterpretation } from './interpretation.js';

export const trainUsage = `Usage: fastvision train --csv <file> --out <dir> [options]

fastai's fine_tune recipe on a CSV of image files and labels: a pretrained
architecture, --freeze-epochs with the body frozen, then --epochs with every layer
group training at discriminative learning rates. Prints the epoch table and writes
into --out: model/ (the export, for \`fastvision predict\` and loadLearner),
lr-find.png (with --lr auto), loss.png, epochs.csv, confusion-matrix.png,
top-losses.png and report.txt (on the validation set).

Options:
  --csv <file>            CSV with a header row: one row per image (required)
  --path <dir>            Folder the file names are relative to (default: the CSV's folder)
  --fn-col <name|index>   Column of file names (default 0, the first)
  --label-col <name|index> Column of labels (default 1, the second)
  --out <dir>             Where to write the model and pictures (required)
  --arch <name>           ${Object.keys(pretrainedConfigs).join(' | ')} (default resnet34)
  --pretrained <bool>     Start from ImageNet weights (default true); false trains from
                          random init and needs no download (also --no-pretrained)
  --size <px>             Image size, squished to a square (default 224)
  --epochs <n>            Unfrozen epochs (default 5)
  --freeze-epochs <n>     Frozen epochs first (default 1)
  --lr <auto|number>      Base learning rate; auto = the LR finder's valley (default auto)
  --lr-find-iters <n>     Iterations of the LR finder (default 100, as fastai)
  --bs <n>                Batch size (default 64)
  --valid-pct <x>         Share of images held out for validation, in (0, 1) (default 0.2)
  --seed <n>              Seed of the split and shuffling (default 42)
  --top-losses <k>        Images in top-losses.png (default 9)
  --backend <name>        Force a backend: gpu | node | wasm | cpu (default: the best installed)
  -h, --help              Show this help

Example:
  fastvision train --csv data/labels.csv --fn-col image_name --label-col label \\
    --arch resnet34 --size 224 --epochs 5 --out runs/first
`;

export async function train(args: string[]): Promise<void> {
  const { values } = parse(
    args,
    {
      csv: { type: 'string' },
      path: { type: 'string' },
      'fn-col': { type: 'string' },
      'label-col': { type: 'string' },
      out: { type: 'string' },
      arch: { type: 'string' },
      pretrained: { type: 'string' },
      'no-pretrained': { type: 'boolean' },
      size: { type: 'string' },
      epochs: { type: 'string' },
      'freeze-epochs': { type: 'string' },
      lr: { type: 'string' },
      'lr-find-iters': { type: 'string' },
      bs: { type: 'string' },
      'valid-pct': { type: 'string' },
      seed: { type: 'string' },
      'top-losses': { type: 'string' },
      backend: { type: 'string' },
    },
    trainUsage,
  );
  if (values.help) return void process.stdout.write(trainUsage);
  // Every option is checked before the (slow) backend and data start, so a typo fails at once.
  const csv = existingFile(values.csv, 'csv');
  const path = values.path == null ? dirname(csv) : existingDir(values.path, 'path');
  const out = required(values.out, 'out');
  const arch = choice(values.arch, 'arch', Object.keys(pretrainedConfigs) as ArchName[], 'resnet34');
  const pretrained = values['no-pretrained'] ? false : booleanOption(values.pretrained, 'pretrained', true);
  const size = numberOption(values.size, 'size', 224, { integer: true, min: 1 });
  const epochs = numberOption(values.epochs, 'epochs', 5, { integer: true, min: 1 });
  const freezeEpochs = numberOption(values['freeze-epochs'], 'freeze-epochs', 1, { integer: true, min: 1 });
  const lr = values.lr == null || values.lr === 'auto' ? 'auto' : numberOption(values.lr, 'lr', 0, { above: 0 });
  const lrFindIters = numberOption(values['lr-find-iters'], 'lr-find-iters', 100, { integer: true, min: 10 });
  const bs = numberOption(values.bs, 'bs', 64, { integer: true, min: 1 });
  const validPct = numberOption(values['valid-pct'], 'valid-pct', 0.2, { above: 0, below: 1 });
  const seed = numberOption(values.seed, 'seed', 42, { integer: true });
  const topK = numberOption(values['top-losses'], 'top-losses', 9, { integer: true, min: 1 });
  const backend = values.backend == null ? undefined : choice(values.backend, 'backend', ['gpu', 'node', 'wasm', 'cpu'] as BackendName[], 'wasm');

  const fnCol = columnOption(values['fn-col'], 0);
  const labelCol = columnOption(values['label-col'], 1);
  // Read once up front so a wrong column is reported under its command-line name.
  const rows = await readCsv(csv);
  resolveColumn(rows, fnCol, '--fn-col', csv);
  resolveColumn(rows, labelCol, '--label-col', csv);

  const log = (line: string) => console.log(line);
  await initBackend(backend ? { backend } : {});
  const b = backendInfo();
  log(`backend: ${b.name} (${b.reason})`);
  await mkdir(out, { recursive: true });
  const dls = await DataLoaders.fromCsv(csv, {
    path,
    fnCol,
    labelCol,
    validPct,
    seed,
    size,
    bs,
  });
  log(`${dls.train.n} training and ${dls.valid.n} validation images; classes: ${dls.vocab.join(', ')}`);
  const learn = await visionLearner(dls, arch, { metrics: [errorRate], pretrained, logger: log });
  let baseLr: number;
  if (lr === 'auto') {
    const found = await learn.lrFind({ plot: join(out, 'lr-find.png'), numIt: lrFindIters });
    // A loss curve too short or too flat for a suggestion (tiny data): fine_tune's default.
    baseLr = Number.isFinite(found.valley) ? found.valley! : 2e-3;
    log(Number.isFinite(found.valley) ? `LR finder: valley ${baseLr.toExponential(2)} (lr-find.png)` : `LR finder gave no suggestion; using fine_tune's default ${baseLr}`);
  } else {
    baseLr = lr;
  }
  await learn.fineTune(epochs, baseLr, { freezeEpochs, cbs: [new CSVLogger(join(out, 'epochs.csv'), true)] });
  await learn.recorder.plotLoss({ file: join(out, 'loss.png') });
  const model = await learn.export(join(out, 'model'));
  const interp = await ClassificationInterpretation.fromLearner(learn);
  const files = await writeInterpretation(interp, out, topK, log);
  log(`\nWrote ${model}/ (the model), ${[lr === 'auto' ? 'lr-find.png' : null, 'loss.png', 'epochs.csv', ...Object.values(files).map((f) => f.slice(out.length + 1))].filter(Boolean).join(', ')} in ${out}`);
}
