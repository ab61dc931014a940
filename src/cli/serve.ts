import { servePage, writePage } from '../deploy/pageServer.js';
import { existingDir, numberOption, parse } from './args.js';

export const serveUsage = `Usage: fastvision serve --model <dir> [--port 8080] [--host 127.0.0.1] [--out <dir>]

Serves a web page that classifies images in the browser with an exported model:
open the address it prints, drop images on the page, see each class's probability.
The page runs TensorFlow.js (webgl when the browser has it, else wasm) and prepares
images exactly as \`fastvision predict\` does. With --out, writes the page and the
model as a static site instead (upload the folder to any web host).

Options:
  --model <dir>   The export directory (what learn.export() wrote)
  --port <n>      Port (default 8080; 0 picks a free one)
  --host <addr>   Interface to listen on (default 127.0.0.1: this machine only)
  --out <dir>     Write a static site to this new folder and exit
  -h, --help      Show this help

Example:
  fastvision serve --model runs/first/model
`;

export async function serve(args: string[]): Promise<void> {
  const { values } = parse(args, { model: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, out: { type: 'string' } }, serveUsage);
  if (values.help) return void process.stdout.write(serveUsage);
  const model = existingDir(values.model, 'model');
  if (values.out) {
    const out = await writePage(model, values.out);
    return void process.stdout.write(`Wrote the page and the model to ${out}\n`);
  }
  const port = numberOption(values.port, 'port', 8080, { integer: true, min: 0, below: 65536 });
  const server = await servePage(model, { port, host: values.host ?? '127.0.0.1' });
  process.stdout.write(`Serving ${model} at ${server.url} (Ctrl-C to stop)\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
