/**
 * What the browser classifier page is made of: its HTML and script, fastvision's browser
 * module, TensorFlow.js's script builds from the installed packages, and the files of one
 * export. A fixed table from URL path to file: nothing else is ever served or copied.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FastvisionError } from '../core/errors.js';
import { readRegularFile } from '../core/safeRead.js';
import { validateExportMeta } from '../learner/exportFormat.js';

/** One file of the page: from disk, or made in memory (the browser module when built from source). */
export type PageFile = { file: string } | { text: string };

const here = dirname(fileURLToPath(import.meta.url));
const requireHere = createRequire(import.meta.url);

/** fastvision's own folder (the one with its package.json): `dist/..` installed, the repo in development. */
function packageRoot(): string {
  for (let dir = here; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fastvision') return dir;
    if (dirname(dir) === dir) throw new Error(`fastvision: cannot find fastvision's package.json above ${here}`);
  }
}

/** TensorFlow.js's browser builds the page loads as script tags, by URL name → package file. */
const vendor: Record<string, { pkg: string; file: string; optional?: boolean }> = {
  'tf-core.min.js': { pkg: '@tensorflow/tfjs-core', file: 'dist/tf-core.min.js' },
  'tf-layers.min.js': { pkg: '@tensorflow/tfjs-layers', file: 'dist/tf-layers.min.js' },
  'tf-backend-cpu.min.js': { pkg: '@tensorflow/tfjs-backend-cpu', file: 'dist/tf-backend-cpu.min.js' },
  'tf-backend-wasm.min.js': { pkg: '@tensorflow/tfjs-backend-wasm', file: 'dist/tf-backend-wasm.min.js' },
  'tfjs-backend-wasm.wasm': { pkg: '@tensorflow/tfjs-backend-wasm', file: 'dist/tfjs-backend-wasm.wasm' },
  'tfjs-backend-wasm-simd.wasm': { pkg: '@tensorflow/tfjs-backend-wasm', file: 'dist/tfjs-backend-wasm-simd.wasm' },
  'tfjs-backend-wasm-threaded-simd.wasm': { pkg: '@tensorflow/tfjs-backend-wasm', file: 'dist/tfjs-backend-wasm-threaded-simd.wasm' },
  // The GPU in the page: an optional peer (`npm install @tensorflow/tfjs-backend-webgl`).
  'tf-backend-webgl.min.js': { pkg: '@tensorflow/tfjs-backend-webgl', file: 'dist/tf-backend-webgl.min.js', optional: true },
};

function vendorFiles(): Map<string, PageFile> {
  const out = new Map<string, PageFile>();
  for (const [name, { pkg, file, optional }] of Object.entries(vendor)) {
    try {
      out.set(`vendor/${name}`, { file: requireHere.resolve(`${pkg}/${file}`) });
    } catch (err) {
      if (!optional) throw new FastvisionError('IO', `fastvision serve: ${pkg}/${file} is missing (${(err as Error).message.split('\n')[0]}); reinstall fastvision's dependencies`);
    }
  }
  return out;
}

/** `dist/browser.js` when installed; built from `src/browser/` with esbuild in fastvision's own repo. */
async function browserModule(root: string): Promise<PageFile> {
  const built = join(root, 'dist', 'browser.js');
  const source = join(root, 'src', 'browser', 'index.ts');
  // Running from source (tests, tsx): build what dist/browser.js would be.
  if (existsSync(source) && !here.startsWith(join(root, 'dist'))) {
    const { build } = (await import('esbuild')) as typeof import('esbuild');
    const result = await build({ entryPoints: [source], bundle: true, format: 'esm', platform: 'browser', target: 'es2020', minify: true, write: false, logLevel: 'error' });
    return { text: result.outputFiles[0]!.text };
  }
  if (!existsSync(built)) throw new FastvisionError('IO', `fastvision serve: ${built} is missing; reinstall fastvision`);
  return { file: built };
}

/** The export's files, checked: its metadata, model.json and the weight files model.json names. */
async function exportFiles(modelDir: string): Promise<Map<string, PageFile>> {
  const metaFile = join(modelDir, 'fastvision.json');
  const meta = validateExportMeta(JSON.parse((await readRegularFile(metaFile, { maxBytes: 16 << 20, what: 'fastvision.json' })).toString('utf8')), metaFile);
  const modelFile = join(modelDir, 'model.json');
  const model = JSON.parse((await readRegularFile(modelFile, { maxBytes: 256 << 20, what: 'model.json' })).toString('utf8')) as { weightsManifest?: { paths?: unknown[] }[] };
  const out = new Map<string, PageFile>([
    ['model/fastvision.json', { file: metaFile }],
    ['model/model.json', { file: modelFile }],
  ]);
  for (const group of model.weightsManifest ?? []) {
    for (const p of group.paths ?? []) {
      if (typeof p !== 'string' || !/^[\w.-]+$/.test(p)) throw new FastvisionError('BAD_FILE', `${modelFile} names the weights file ${JSON.stringify(p)}; expected a plain file name beside it`);
      out.set(`model/${p}`, { file: join(modelDir, p) });
    }
  }
  if (meta.formatVersion === 2 && !out.has(`model/${meta.files.weights}`)) {
    throw new FastvisionError('BAD_FILE', `${modelFile} does not name ${meta.files.weights}, the weights ${metaFile} lists: a partial or mixed export?`);
  }
  return out;
}

/**
 * Every file of the classifier page for the export in `modelDir`, by URL path
 * (`index.html`, `app.js`, `fastvision-browser.js`, `vendor/…`, `model/…`).
 *
 * @param modelDir - A folder written by `learn.export`.
 * @returns URL path (no leading slash) → where its content comes from.
 * @throws A `FastvisionError` when the export is invalid or a page file is missing.
 */
export async function pageFiles(modelDir: string): Promise<Map<string, PageFile>> {
  const root = packageRoot();
  const page = join(root, 'examples', 'browser-classifier');
  return new Map<string, PageFile>([
    ['index.html', { file: join(page, 'index.html') }],
    ['app.js', { file: join(page, 'app.js') }],
    ['fastvision-browser.js', await browserModule(root)],
    ...vendorFiles(),
    ...(await exportFiles(modelDir)),
  ]);
}
