import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '../../../src/core/tf.js';
import { tempDir } from '../images.js';
import { registerEmulatedTensorflow } from './emulatedBackend.js';
import { tfjsNodeJs } from './install.js';

/**
 * A `@tensorflow/tfjs-node` (or `-gpu`) package that fastvision finds and loads as it
 * would the real one: a package folder in a temp directory, and a hook on Node's
 * module resolution (this process only) that sends the package's name there. Loading
 * it registers the emulated `'tensorflow'` backend — or fails the way real installs
 * fail, by `flavour`.
 */
export type NativeFlavour =
  /** tfjs-node's kernel JavaScript over the emulated binding. */
  | 'works'
  /** Loading throws, as when libtensorflow.so is missing. */
  | 'importThrows'
  /** The backend factory throws, as when CUDA libraries are missing; tfjs only logs that. */
  | 'factoryThrows'
  /** Loads and registers, but every TensorFlow op fails. */
  | 'opsThrow'
  /** Brings its own @tensorflow/tfjs-core 4.21.0. */
  | 'secondCore';

export type NativePackage = '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';

const repo = join(import.meta.dirname, '..', '..', '..');
const fakes = new Map<string, string>();

declare global {
  var __fastvisionFakeNative: ((name: string) => void) | undefined;
}

/**
 * Makes `pkg` resolvable in this process as a fake of `flavour`; returns its folder.
 *
 * @param opts - `gpu`: what the emulated binding says of `isUsingGpuDevice()`.
 */
export function installFakeNative(pkg: NativePackage, flavour: NativeFlavour, opts: { gpu?: boolean } = {}): string {
  const root = tempDir('fastvision-native-');
  const dir = join(root, 'node_modules', pkg);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: pkg, version: '4.22.0', main: 'index.js', dependencies: { '@tensorflow/tfjs': '4.22.0' } }));
  writeFileSync(join(dir, 'index.js'), "globalThis.__fastvisionFakeNative(require('./package.json').name);\n");
  const tfjsDir = join(dir, 'node_modules', '@tensorflow');
  mkdirSync(tfjsDir, { recursive: true });
  if (flavour === 'secondCore') {
    for (const [name, version] of [['tfjs', '4.21.0'], ['tfjs-core', '4.21.0']]) {
      mkdirSync(join(tfjsDir, name!));
      writeFileSync(join(tfjsDir, name!, 'package.json'), JSON.stringify({ name: `@tensorflow/${name}`, version, main: 'index.js' }));
    }
  } else {
    // What a deduplicated install looks like: the package's @tensorflow/tfjs is fastvision's.
    symlinkSync(join(repo, 'node_modules', '@tensorflow', 'tfjs'), join(tfjsDir, 'tfjs'), 'dir');
  }
  fakes.set(pkg, join(root, 'node_modules'));
  hookResolution();
  globalThis.__fastvisionFakeNative = (name) => load(name, flavour, opts);
  return dir;
}

function load(name: string, flavour: NativeFlavour, opts: { gpu?: boolean }): void {
  switch (flavour) {
    case 'importThrows':
      throw new Error('libtensorflow.so.2: cannot open shared object file: No such file or directory');
    case 'factoryThrows':
      tf.registerBackend('tensorflow', () => {
        throw new Error('Could not load dynamic library libcudart.so.11.0');
      });
      // tfjs-node's index.js does this too; its promise is truthy, so it never throws.
      void tf.setBackend('tensorflow');
      return;
    case 'opsThrow':
      registerEmulatedTensorflow(tfjsNodeJs(), { gpu: opts.gpu, opsThrow: 'No OpKernel was registered to support Op (the library is broken)' });
      return;
    default:
      registerEmulatedTensorflow(tfjsNodeJs(), { gpu: opts.gpu ?? name.endsWith('-gpu') });
  }
}

let hooked = false;

function hookResolution(): void {
  if (hooked) return;
  hooked = true;
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = M._resolveFilename;
  M._resolveFilename = function (request, parent, ...rest) {
    for (const [pkg, modules] of fakes) {
      if (request === pkg || request.startsWith(`${pkg}/`)) return resolve.call(this, request, { filename: join(modules, 'x.js'), paths: [modules] }, ...rest);
    }
    return resolve.call(this, request, parent, ...rest);
  };
}

/** The folder a fake package lives in (for tests that look at it). */
export const fakeRoot = (pkg: NativePackage) => dirname(fakes.get(pkg)!);
