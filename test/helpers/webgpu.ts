import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';

/** The WebGPU peers the webgpu tests run: Dawn's Node bindings and tfjs's webgpu backend at fastvision's tfjs version. */
export const webgpuPeers = { webgpu: '0.6.2', '@tensorflow/tfjs-backend-webgpu': '4.22.0' } as const;

const repo = join(import.meta.dirname, '..', '..');
/** Debian's chromium ships SwiftShader, a Vulkan implementation on the CPU, which Dawn accepts as an adapter. */
export const swiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Installs the peers once into `.cache/` (git ignores it), never into fastvision's
 * dependencies, and makes them resolvable in this process as a user's install next to
 * fastvision would be. The cache's own tfjs-core is removed: the backend must register
 * with fastvision's (as `npm dedupe` leaves a real install). Returns the modules folder.
 */
export function useWebgpuPeers(): string {
  const root = join(repo, '.cache', `webgpu-peers-${webgpuPeers.webgpu}-${webgpuPeers['@tensorflow/tfjs-backend-webgpu']}`);
  const modules = join(root, 'node_modules');
  if (!existsSync(join(modules, '@tensorflow', 'tfjs-backend-webgpu', 'package.json'))) {
    const tmp = `${root}.tmp-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    const specs = Object.entries(webgpuPeers).map(([p, v]) => `${p}@${v}`);
    const run = spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save', '--prefix', tmp, ...specs], { encoding: 'utf8' });
    if (run.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`the webgpu tests need ${specs.join(' ')} from the npm registry and could not install them:\n${run.stderr}`);
    }
    for (const dup of ['tfjs-core', 'tfjs-backend-cpu']) rmSync(join(tmp, 'node_modules', '@tensorflow', dup), { recursive: true, force: true });
    try {
      renameSync(tmp, root);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another test file got there first
    }
  }
  hook(modules);
  return modules;
}

let hooked = false;

function hook(modules: string): void {
  if (hooked) return;
  hooked = true;
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = M._resolveFilename;
  M._resolveFilename = function (request, parent, ...rest) {
    if (Object.keys(webgpuPeers).some((p) => request === p || request.startsWith(`${p}/`))) return resolve.call(this, request, { filename: join(modules, 'x.js'), paths: [modules] }, ...rest);
    return resolve.call(this, request, parent, ...rest);
  };
}

/** Points Vulkan at SwiftShader (and gives the loader a runtime dir); false when chromium is not installed. */
export function useSwiftShader(): boolean {
  if (!existsSync(swiftShaderIcd)) return false;
  process.env.VK_ICD_FILENAMES = swiftShaderIcd;
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(repo, '.cache', 'xdg-runtime');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  return true;
}
