#!/usr/bin/env node
import { bench, benchUsage } from './cli/bench.js';
import { exitCodeOf, UsageError } from './cli/errors.js';
import { info, infoUsage } from './cli/info.js';
import { interpret, interpretUsage } from './cli/interpret.js';
import { lrFind, lrFindUsage } from './cli/lrFind.js';
import { predict, predictUsage } from './cli/predict.js';
import { serve, serveUsage } from './cli/serve.js';
import { train, trainUsage } from './cli/train.js';
import { version } from './version.js';

const usage = `fastvision ${version} — fastai's image-classification workflow on TensorFlow.js

Usage: fastvision <command> [options]

Commands:
  info        The version, the tfjs backend fastvision picks and why, the weights cache
  train       Fine-tune a pretrained CNN on a CSV of images and labels; export it
  lr-find     Run fastai's LR finder on a CSV: suggestions and the curve
  predict     Classify images with an exported model (JSON lines or CSV)
  interpret   Confusion matrix, top losses and report of a model on a labelled CSV
  serve       A web page that classifies images in the browser with an exported model
  bench       Images per second of training and inference on this machine (a table to paste)

Options:
  -h, --help     Show help (also \`fastvision <command> --help\`)
  -v, --version  Print the version

Exit codes: 0 success, 1 a problem with the input (the message says what to fix),
2 an internal error (please report it, with the stack trace printed).
`;

const commands: Record<string, { run: (args: string[]) => Promise<void>; usage: string }> = {
  info: { run: info, usage: infoUsage },
  train: { run: train, usage: trainUsage },
  'lr-find': { run: lrFind, usage: lrFindUsage },
  predict: { run: predict, usage: predictUsage },
  interpret: { run: interpret, usage: interpretUsage },
  serve: { run: serve, usage: serveUsage },
  bench: { run: bench, usage: benchUsage },
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '-v' || command === '--version') return void process.stdout.write(`${version}\n`);
  if (command == null || command === '-h' || command === '--help' || command === 'help') {
    const topic = command === 'help' && rest[0] ? commands[rest[0]] : undefined;
    return void process.stdout.write(topic?.usage ?? usage);
  }
  const cmd = commands[command];
  if (!cmd) throw new UsageError(`unknown command '${command}'\n\n${usage}`);
  await cmd.run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const code = exitCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === 1) process.stderr.write(`${message}\n`);
  else process.stderr.write(`fastvision: internal error (please report it): ${err instanceof Error ? (err.stack ?? message) : message}\n`);
  process.exitCode = code;
});
