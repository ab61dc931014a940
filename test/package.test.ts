import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, FASTVISION_BACKEND: '' } });

describe('the npm package', () => {
  beforeAll(() => {
    run('npm', ['run', 'build', '--silent']);
  }, 180_000);

  it('builds ESM, CommonJS and type declarations', () => {
    for (const f of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'cli.js']) {
      expect(existsSync(join(root, 'dist', f)), `dist/${f}`).toBe(true);
    }
    expect(readFileSync(join(root, 'dist/index.d.ts'), 'utf8')).toMatch(/declare function initBackend/);
  });

  // Self-reference by package name goes through package.json's `exports`, as a user's import does.
  it("import('fastvision') loads the ESM build and starts a backend", () => {
    const out = run('node', [
      '--input-type=module',
      '-e',
      "const m = await import('fastvision'); const b = await m.initBackend(); console.log(JSON.stringify({ keys: Object.keys(m), b: b.name, v: m.version }))",
    ]);
    const { keys, b, v } = JSON.parse(out.trim().split('\n').pop()!);
    expect(keys).toEqual(expect.arrayContaining(['initBackend', 'backendInfo', 'version']));
    expect(b).toBe('wasm');
    expect(v).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  });

  it("require('fastvision') loads the CommonJS build and starts a backend", () => {
    const out = run('node', [
      '-e',
      "const m = require('fastvision'); m.initBackend().then(b => console.log(JSON.stringify({ keys: Object.keys(m), b: b.name })))",
    ]);
    const { keys, b } = JSON.parse(out.trim().split('\n').pop()!);
    expect(keys).toEqual(expect.arrayContaining(['initBackend', 'backendInfo', 'version']));
    expect(b).toBe('wasm');
  });

  it('the fastvision command prints backend info', () => {
    const info = JSON.parse(run('node', ['dist/cli.js', 'info', '--json']));
    expect(info.backend).toMatchObject({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm' });
    expect(run('node', ['dist/cli.js', '--help'])).toMatch(/Usage: fastvision <command>/);
    expect(run('node', ['dist/cli.js', 'info', '--help'])).toMatch(/--backend <name>/);
  });

  it('has exactly one copy of @tensorflow/tfjs-core in the tree', () => {
    const tree = JSON.parse(run('npm', ['ls', '@tensorflow/tfjs-core', '--all', '--json']));
    const versions = new Set<string>();
    const paths = new Set<string>();
    const walk = (deps: Record<string, { version: string; resolved?: string; path?: string; dependencies?: object }> = {}) => {
      for (const [name, d] of Object.entries(deps)) {
        if (name === '@tensorflow/tfjs-core') {
          versions.add(d.version);
          if (d.path) paths.add(d.path);
        }
        walk(d.dependencies as typeof deps);
      }
    };
    walk(tree.dependencies);
    expect([...versions]).toHaveLength(1);
    expect(paths.size).toBeLessThanOrEqual(1);
    // And nothing below the top level brings its own.
    expect(run('find', ['.', '-path', '*/node_modules/@tensorflow/tfjs-core/package.json']).trim().split('\n')).toEqual([
      './node_modules/@tensorflow/tfjs-core/package.json',
    ]);
  });

  it('never depends on native TensorFlow: tfjs-node(-gpu) are optional peers only', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const name of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
      expect(pkg.dependencies?.[name]).toBeUndefined();
      expect(pkg.optionalDependencies?.[name]).toBeUndefined();
      expect(pkg.peerDependencies?.[name]).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[name]).toEqual({ optional: true });
    }
  });
});
