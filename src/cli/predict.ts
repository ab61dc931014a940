import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { imageExtensions, initBackend, loadLearner, readCsv, type BackendName } from '../index.js';
import { progressBar } from '../core/progress.js';
import { resolveColumn } from '../data/table.js';
import { choice, columnOption, existingDir, numberOption, parse, UsageError } from './args.js';

export const predictUsage = `Usage: fastvision predict --model <dir> [--csv] [--skip-bad] <image, folder or CSV...>

Classifies images with a model exported by \`fastvision train\` (or learn.export()),
in batches, through the export's preprocessing. A folder stands for every image in it
(recursively); a .csv file for the images its --fn-col names (relative to the CSV's
folder). Prints one JSON line per image: {"file", "label", "probs": {class: probability}};
with --csv, a table: file,label,<one column per class>. Progress goes to stderr.

Options:
  --model <dir>     The export directory (what learn.export() wrote)
  --csv             Print CSV instead of JSON lines
  --fn-col <col>    The file-name column of CSV inputs, by name or index (default 0)
  --bs <n>          Images per batch (default 16)
  --skip-bad        Leave out images that cannot be decoded, listing them on stderr
                    (default: the first one stops the run)
  --backend <name>  Force a backend: gpu | node | wasm | cpu
  -h, --help        Show this help

Example:
  fastvision predict --model runs/first/model covers/*.jpg
`;

/** RFC 4180 quoting, only where needed. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export async function predict(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    { model: { type: 'string' }, csv: { type: 'boolean' }, 'fn-col': { type: 'string' }, bs: { type: 'string' }, 'skip-bad': { type: 'boolean' }, backend: { type: 'string' } },
    predictUsage,
    true,
  );
  if (values.help) return void process.stdout.write(predictUsage);
  const model = existingDir(values.model, 'model');
  if (positionals.length === 0) throw new UsageError('give at least one image or folder to predict, e.g. `fastvision predict --model runs/first/model cover.jpg`');
  // Every image is checked before the model loads, and all missing ones are named at once.
  const missing = positionals.filter((f) => !existsSync(f));
  if (missing.length) throw new UsageError(`${missing.length === 1 ? 'no such image or folder' : `${missing.length} images or folders do not exist`}: ${missing.join(', ')}`);
  const fnCol = columnOption(values['fn-col'], 0);
  const bs = numberOption(values.bs, 'bs', 16, { integer: true, min: 1 });
  const files = (await Promise.all(positionals.map((f) => (statSync(f).isDirectory() ? imagesIn(f) : f.toLowerCase().endsWith('.csv') ? imagesOf(f, fnCol) : [f])))).flat();
  if (files.length === 0) throw new UsageError(`no images (${imageExtensions.join(', ')}) in ${positionals.join(', ')}`);
  const backend = values.backend == null ? undefined : choice(values.backend, 'backend', ['gpu', 'node', 'wasm', 'cpu'] as BackendName[], 'wasm');
  await initBackend(backend ? { backend } : {});
  const learn = await loadLearner(model);
  const { vocab } = learn.inferenceConfig;
  if (values.csv) process.stdout.write(`${['file', 'label', ...vocab].map(csvField).join(',')}\n`);
  let skipped = 0;
  // One bar over every chunk, not predictMany's own per chunk.
  const progress = progressBar('predict', files.length);
  try {
    // Chunks of a few batches, printed as they come: a long run shows progress and keeps what it did.
    for (let start = 0; start < files.length; start += 4 * bs) {
      const chunk = files.slice(start, start + 4 * bs);
      const { predictions, skipped: bad } = await learn.predictMany(chunk, { bs, onBadImage: values['skip-bad'] ? 'skip' : 'error', progress: false, onProgress: (done) => progress.update(start + done) });
      for (const b of bad) process.stderr.write(`fastvision: skipped '${String(b.item)}': ${b.reason}\n`);
      skipped += bad.length;
      for (const { item, label, probs } of predictions) {
        const file = String(item);
        if (values.csv) process.stdout.write(`${[file, label].map(csvField).concat(probs.map((p) => p.toFixed(6))).join(',')}\n`);
        else process.stdout.write(`${JSON.stringify({ file, label, probs: Object.fromEntries(vocab.map((c, k) => [c, probs[k]])) })}\n`);
      }
    }
    progress.update(files.length);
  } finally {
    progress.stop();
  }
  if (skipped) process.stderr.write(`fastvision: skipped ${skipped} of ${files.length} images that could not be decoded\n`);
  learn.model.dispose();
}

/** The images a CSV names in its `fnCol` column, relative to the CSV's folder. */
async function imagesOf(csv: string, fnCol: string | number): Promise<string[]> {
  const rows = await readCsv(csv);
  const col = resolveColumn(rows, fnCol, '--fn-col', csv);
  return rows.map((row) => join(dirname(csv), String(row[col] ?? '')));
}

/** The images in a folder, recursively, sorted. */
async function imagesIn(dir: string): Promise<string[]> {
  const names = (await readdir(dir, { recursive: true })) as string[];
  return names.filter((n) => imageExtensions.some((e) => n.toLowerCase().endsWith(e))).map((n) => join(dir, n)).sort();
}
