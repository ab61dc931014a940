import { initBackend, loadLearner, type BackendName } from '../index.js';
import { choice, existingDir, existingFile, parse, UsageError } from './args.js';

export const predictUsage = `Usage: fastvision predict --model <dir> [--csv] <image...>

Classifies images with a model exported by \`fastvision train\` (or learn.export()).
Prints one JSON line per image: {"file", "label", "probs": {class: probability}};
with --csv, a table: file,label,<one column per class>.

Options:
  --model <dir>     The export directory (model.json, weights.bin, fastvision.json)
  --csv             Print CSV instead of JSON lines
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
  const { values, positionals } = parse(args, { model: { type: 'string' }, csv: { type: 'boolean' }, backend: { type: 'string' } }, predictUsage, true);
  if (values.help) return void process.stdout.write(predictUsage);
  const model = existingDir(values.model, 'model');
  if (positionals.length === 0) throw new UsageError('give at least one image to predict, e.g. `fastvision predict --model runs/first/model cover.jpg`');
  // Every image is checked before the model loads, and all missing ones are named at once.
  const missing = positionals.filter((f) => {
    try {
      existingFile(f, 'image');
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) throw new UsageError(`${missing.length === 1 ? 'no such image' : `${missing.length} images do not exist`}: ${missing.join(', ')}`);
  const backend = values.backend == null ? undefined : choice(values.backend, 'backend', ['gpu', 'node', 'wasm', 'cpu'] as BackendName[], 'wasm');
  await initBackend(backend ? { backend } : {});
  const learn = await loadLearner(model);
  const { vocab } = learn.inferenceConfig;
  if (values.csv) process.stdout.write(`${['file', 'label', ...vocab].map(csvField).join(',')}\n`);
  for (const file of positionals) {
    const { label, probs } = await learn.predict(file);
    if (values.csv) {
      process.stdout.write(`${[file, label].map(csvField).concat(probs.map((p) => p.toFixed(6))).join(',')}\n`);
    } else {
      process.stdout.write(`${JSON.stringify({ file, label, probs: Object.fromEntries(vocab.map((c, k) => [c, probs[k]])) })}\n`);
    }
  }
  learn.model.dispose();
}
