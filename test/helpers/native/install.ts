import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The native package whose JavaScript the native-contract tests run: the last tfjs-node release. */
export const tfjsNodeVersion = '4.22.0';

const repo = join(import.meta.dirname, '..', '..', '..');

/**
 * `@tensorflow/tfjs-node@4.22.0`'s JavaScript, installed once into `.cache/` (git
 * ignores it) with `--ignore-scripts`: the package's install script is what downloads
 * libtensorflow, so skipping it leaves exactly the JavaScript. Needs the npm registry
 * the first time (CI has it). Never a dependency of fastvision. Returns the package's
 * folder.
 */
export function tfjsNodeJs(): string {
  const root = join(repo, '.cache', `tfjs-node-${tfjsNodeVersion}`);
  const pkg = join(root, 'node_modules', '@tensorflow', 'tfjs-node');
  if (existsSync(join(pkg, 'dist', 'kernels', 'Conv2D.js'))) return pkg;
  // Install beside, then rename: test files run in parallel and may race here.
  const tmp = `${root}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  const run = spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save', '--prefix', tmp, `@tensorflow/tfjs-node@${tfjsNodeVersion}`], { encoding: 'utf8' });
  if (run.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`the native-contract tests need @tensorflow/tfjs-node@${tfjsNodeVersion}'s JavaScript from the npm registry and could not install it:\n${run.stderr}`);
  }
  try {
    renameSync(tmp, root);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another test file got there first
  }
  if (!existsSync(join(pkg, 'dist', 'kernels', 'Conv2D.js'))) throw new Error(`installing @tensorflow/tfjs-node@${tfjsNodeVersion} left no ${pkg}`);
  return pkg;
}
