import { join } from 'node:path';
import { ClassificationInterpretation, CSVLogger } from '../index.js';
import { numberOption, parse, required, writableOutDir } from './args.js';
import { writeInterpretation } from './interpretation.js';
import { learnerOptionSpecs, learnerOptionsHelp, makeLearner, readLearnerOptions } from './learnerOptions.js';

export const trainUsage = `Usage: fastvision train --csv <file> --out <dir> [options]

fastai's fine_tune recipe on a CSV of image files and labels: a pretrained
architecture, --freeze-epochs with the body frozen, then --epochs with every layer
group training at discriminative learning rates. Prints the epoch table and writes
into --out: model/ (the export, for \`fastvision predict\` and loadLearner),
lr-find.png (with --lr auto), loss.png (the unfrozen phase), epochs.csv,
confusion-matrix.png, top-losses.png and report.txt (on the validation set).

Options:
${learnerOptionsHelp}
  --out <dir>              Where to write the model and pictures (required)
  --epochs <n>             Unfrozen epochs (default 5)
  --freeze-epochs <n>      Frozen epochs first (default 1)
  --lr <auto|number>       Base learning rate; auto = the LR finder's valley (default auto)
  --lr-find-iters <n>      Iterations of the LR finder (default 100, as fastai)
  --top-losses <k>         Images in top-losses.png (default 9)
  -h, --help               Show this help

Example:
  fastvision train --csv data/labels.csv --fn-col image_name --label-col label \\
    --arch resnet34 --size 224 --epochs 5 --out runs/first
`;

export async function train(args: string[]): Promise<void> {
  const { values } = parse(
    args,
    {
      ...learnerOptionSpecs,
      out: { type: 'string' },
      epochs: { type: 'string' },
      'freeze-epochs': { type: 'string' },
      lr: { type: 'string' },
      'lr-find-iters': { type: 'string' },
      'top-losses': { type: 'string' },
    },
    trainUsage,
  );
  if (values.help) return void process.stdout.write(trainUsage);
  const config = readLearnerOptions(values);
  const out = required(values.out, 'out');
  const epochs = numberOption(values.epochs, 'epochs', 5, { integer: true, min: 1 });
  const freezeEpochs = numberOption(values['freeze-epochs'], 'freeze-epochs', 1, { integer: true, min: 1 });
  const lr = values.lr == null || values.lr === 'auto' ? 'auto' : numberOption(values.lr, 'lr', 0, { above: 0 });
  const lrFindIters = numberOption(values['lr-find-iters'], 'lr-find-iters', 100, { integer: true, min: 10 });
  const topK = numberOption(values['top-losses'], 'top-losses', 9, { integer: true, min: 1 });

  // Checked before hours of training: --out must be a folder fastvision may write, and
  // out/model new, empty or an earlier export.
  await writableOutDir(out);
  await writableOutDir(join(out, 'model'), { exportDir: true });
  const log = (line: string) => console.log(line);
  const learn = await makeLearner(config, log);
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
