import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ClassificationInterpretation, decodeImage, initBackend, loadLearner, readCsv, type BackendName } from '../index.js';
import { resolveColumn } from '../data/table.js';
import { choice, columnOption, existingDir, existingFile, numberOption, parse, required, UsageError } from './args.js';
import { writeInterpretation } from './interpretation.js';

export const interpretUsage = `Usage: fastvision interpret --model <dir> --csv <file> --out <dir> [options]

Scores every image of a labelled CSV (e.g. a held-out test set) with an exported
model and writes what it gets wrong into --out: confusion-matrix.png,
top-losses.png and report.txt (precision, recall, F1 per class; most confused pairs),
and prints the report.

Options:
  --model <dir>            The export directory (from \`fastvision train\` or learn.export())
  --csv <file>             CSV with a header row: one row per image (required)
  --path <dir>             Folder the file names are relative to (default: the CSV's folder)
  --fn-col <name|index>    Column of file names (default 0)
  --label-col <name|index> Column of labels (default 1)
  --out <dir>              Where to write the pictures and report (required)
  --top-losses <k>         Images in top-losses.png (default 9)
  --backend <name>         Force a backend: gpu | node | wasm | cpu
  -h, --help               Show this help

Example:
  fastvision interpret --model runs/first/model --csv data/test.csv --out runs/first/test
`;

export async function interpret(args: string[]): Promise<void> {
  const { values } = parse(
    args,
    {
      model: { type: 'string' },
      csv: { type: 'string' },
      path: { type: 'string' },
      'fn-col': { type: 'string' },
      'label-col': { type: 'string' },
      out: { type: 'string' },
      'top-losses': { type: 'string' },
      backend: { type: 'string' },
    },
    interpretUsage,
  );
  if (values.help) return void process.stdout.write(interpretUsage);
  const model = existingDir(values.model, 'model');
  const csv = existingFile(values.csv, 'csv');
  const path = values.path == null ? dirname(csv) : existingDir(values.path, 'path');
  const out = required(values.out, 'out');
  const topK = numberOption(values['top-losses'], 'top-losses', 9, { integer: true, min: 1 });
  const backend = values.backend == null ? undefined : choice(values.backend, 'backend', ['gpu', 'node', 'wasm', 'cpu'] as BackendName[], 'wasm');

  const rows = await readCsv(csv);
  if (rows.length === 0) throw new UsageError(`--csv ${csv} has no rows`);
  const fnCol = resolveColumn(rows, columnOption(values['fn-col'], 0), '--fn-col', csv);
  const labelCol = resolveColumn(rows, columnOption(values['label-col'], 1), '--label-col', csv);
  await initBackend(backend ? { backend } : {});
  const learn = await loadLearner(model);
  const { vocab, resize, multiLabel } = learn.inferenceConfig;
  if (multiLabel) throw new UsageError(`${model} is a multi-label model; interpret works on single-label models`);
  const files = rows.map((r) => join(path, String(r[fnCol])));
  const targs = rows.map((r) => vocab.indexOf(String(r[labelCol])));
  const unknown = [...new Set(rows.filter((_, i) => targs[i]! < 0).map((r) => String(r[labelCol])))];
  if (unknown.length) throw new UsageError(`${csv} has labels the model does not know: ${unknown.join(', ')}; its classes are ${vocab.join(', ')}`);

  // In batches, with predictMany's progress on stderr; with onBadImage 'error' every file gets a prediction, in order.
  const probs = (await learn.predictMany(files)).predictions.map((p) => p.probs);
  learn.model.dispose();
  // Cross-entropy of one item is -log of the probability given to its true class,
  // so the per-item losses need no logits.
  const losses = probs.map((p, i) => -Math.log(Math.max(p[targs[i]!]!, 1e-12)));
  const interp = new ClassificationInterpretation({
    vocab,
    probs,
    targs,
    losses,
    image: async (i) => ({ pixels: await decodeImage(files[i]!, resize), width: resize.width, height: resize.height }),
  });
  await mkdir(out, { recursive: true });
  const accuracy = targs.filter((t, i) => interp.decoded[i] === t).length / targs.length;
  console.log(`${rows.length} images; accuracy ${(100 * accuracy).toFixed(1)}%\n`);
  await writeInterpretation(interp, out, topK, (l) => console.log(l));
}
