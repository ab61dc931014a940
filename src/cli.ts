#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { backendInfo, initBackend, type BackendName } from './core/backend.js';
import { version } from './version.js';

const usage = `fastvision ${version} — fastai's image-classification workflow on TensorFlow.js

Usage: fastvision <command> [options]

Commands:
  info        Show the version and the tfjs backend fastvision picks, and why

Options:
  -h, --help     Show help for a command
  -v, --version  Print the version
`;

const infoUsage = `Usage: fastvision info [--backend gpu|node|wasm|cpu] [--json]

Starts the best tfjs backend that is installed and works (or the one forced by
--backend or FASTVISION_BACKEND) and prints what it is.

Options:
  --backend <name>  Force a backend instead of the best available
  --json            Print JSON instead of text
`;

async function info(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { backend: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(infoUsage);
  await initBackend(values.backend ? { backend: values.backend as BackendName } : {});
  const b = backendInfo();
  if (values.json) return void process.stdout.write(`${JSON.stringify({ version, backend: b }, null, 2)}\n`);
  const rows: [string, string][] = [
    ['fastvision', version],
    ['node', process.version],
    ['backend', `${b.name} (${b.package} ${b.version})`],
    ['chosen because', b.reason],
    ['simd', b.simd == null ? 'n/a' : String(b.simd)],
    ['threads', String(b.threads)],
    ['gpu', String(b.gpu)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '-v' || command === '--version') return void process.stdout.write(`${version}\n`);
  if (command == null || command === '-h' || command === '--help' || command === 'help') {
    return void process.stdout.write(usage);
  }
  if (command === 'info') return info(rest);
  process.stderr.write(`fastvision: unknown command '${command}'\n\n${usage}`);
  process.exitCode = 2;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
