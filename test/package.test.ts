import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cjsScript, esmScript } from './helpers/consumer.js';
import { tempDir } from './helpers/images.js';
import { writePatterns } from './helpers/patterns.js';

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
    // (.cache/ holds tfjs-node's JavaScript for the native-contract tests, with its own copy: not part of the tree.)
    expect(run('find', ['.', '-path', './.cache', '-prune', '-o', '-path', '*/node_modules/@tensorflow/tfjs-core/package.json', '-print']).trim().split('\n')).toEqual([
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

// What "npm install fastvision" gives a user: the packed tarball installed into an
// empty project (dependencies from the registry, or npm's cache), used through both
// module systems. Lives in this file so it shares the build above (files run in parallel).
describe('the packed tarball, installed into a fresh project', () => {
  let project: string;
  let data: string;
  const inProject = (cmd: string, args: string[]) =>
    // ONNXRUNTIME_NODE_INSTALL=skip: what the README tells offline users (onnxruntime-node's CUDA download is unreachable here).
    execFileSync(cmd, args, { cwd: project, encoding: 'utf8', env: { ...process.env, FASTVISION_BACKEND: '', FASTVISION_OFFLINE: '1', ONNXRUNTIME_NODE_INSTALL: 'skip' } });

  beforeAll(async () => {
    project = tempDir('fastvision-consumer-');
    // What `prepack` does before a publish (build, API reference); the build ran above.
    run('npm', ['run', 'docs', '--silent']);
    const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', project]))[0];
    expect(packed.files.map((f: { path: string }) => f.path)).toEqual(
      expect.arrayContaining([
        'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/cli.js', 'dist/browser.js', 'README.md', 'CHANGELOG.md',
        // README's links resolve inside the package: the guides, the API reference, the examples.
        'docs/getting-started.md', 'docs/export-and-deploy.md', 'docs/api/index.html', 'examples/metal-vs-rap/README.md', 'examples/browser-classifier/index.html',
      ]),
    );
    console.log(`npm pack: ${packed.filename}, ${(packed.size / 1e6).toFixed(2)} MB packed, ${(packed.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${packed.entryCount} files`);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    inProject('npm', ['install', join(project, packed.filename), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']);
    // An ImageNet-style folder: data/<class>/<image>.
    const { dir, rows } = await writePatterns(16, 5);
    data = join(project, 'data');
    for (const r of rows) {
      const target = join(data, r.label, r.fn);
      execFileSync('mkdir', ['-p', join(data, r.label)]);
      renameSync(join(dir, r.fn), target);
    }
    writeFileSync(join(project, 'train.mjs'), esmScript);
    writeFileSync(join(project, 'train.cjs'), cjsScript);
  }, 600_000);

  it('installs one tfjs-core and no native TensorFlow', () => {
    const tree = JSON.parse(inProject('npm', ['ls', '@tensorflow/tfjs-core', '--all', '--json']));
    const versions = new Set<string>();
    const walk = (deps: Record<string, { version: string; dependencies?: object }> = {}) => {
      for (const [name, d] of Object.entries(deps)) {
        if (name === '@tensorflow/tfjs-core') versions.add(d.version);
        walk(d.dependencies as typeof deps);
      }
    };
    walk(tree.dependencies);
    expect(versions.size).toBe(1);
    expect(existsSync(join(project, 'node_modules/@tensorflow/tfjs-node'))).toBe(false);
    // Core, layers and the cpu/wasm backends only: not the umbrella package's webgl, converter and data.
    for (const pkg of ['tfjs', 'tfjs-backend-webgl', 'tfjs-converter', 'tfjs-data']) expect(existsSync(join(project, 'node_modules/@tensorflow', pkg)), pkg).toBe(false);
    console.log(`installed: node_modules ${run('du', ['-sh', join(project, 'node_modules')]).split('\t')[0]}`);
  });

  it.each([
    ['import (ESM)', 'train.mjs'],
    ['require (CommonJS)', 'train.cjs'],
  ])('%s: trains one epoch on wasm, exports, loads and predicts', (_, script) => {
    const out = JSON.parse(inProject('node', [script, data]).trim().split('\n').pop()!);
    expect(out.version).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    expect(out.backend).toBe('wasm');
    expect(out.inference).toBe('ort'); // validation and predict ran on ONNX Runtime
    expect(out.onnx).toBe(true); // the export carries model.onnx
    expect(out.vocab).toEqual(['dotted', 'striped']);
    expect(out.lines[0]).toMatch(/^epoch\s+train_loss\s+valid_loss\s+error_rate\s+time/);
    expect(out.lines[1]).toMatch(/^0\s+\d+\.\d{6}\s+\d+\.\d{6}\s+\d\.\d{6}\s+\d\d:\d\d/);
    expect(out.prediction.labels).toHaveLength(1);
    expect(out.prediction.probs.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('fastvision serve: the browser page and the model, over HTTP and as a static site', async () => {
    const model = `${data}-model`; // exported by the scripts above
    const site = join(project, 'site');
    expect(inProject('npx', ['--no-install', 'fastvision', 'serve', '--model', model, '--out', site])).toMatch(/Wrote the page and the model/);
    for (const f of ['index.html', 'app.js', 'fastvision-browser.js', 'vendor/tf-core.min.js', 'vendor/tf-layers.min.js', 'vendor/tfjs-backend-wasm-simd.wasm', 'model/fastvision.json', 'model/model.json']) {
      expect(existsSync(join(site, f)), f).toBe(true);
    }
    const child = spawn('npx', ['--no-install', 'fastvision', 'serve', '--model', model, '--port', '0'], { cwd: project });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => { const m = /(http:\/\/\S+)/.exec(d.toString()); if (m) resolve(m[1]!); });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      for (const path of ['', 'fastvision-browser.js', 'vendor/tf-core.min.js', 'model/fastvision.json']) expect((await fetch(url + path)).status, path).toBe(200);
      for (const path of ['../package.json', '%2e%2e/package.json', 'model/%2e%2e/%2e%2e/package.json', 'node_modules/fastvision/package.json']) expect((await fetch(url + path)).status, path).toBe(404);
    } finally {
      child.kill();
    }
  });

  it('puts the fastvision command on the path', () => {
    expect(inProject('npx', ['--no-install', 'fastvision', '--version']).trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    const info = JSON.parse(inProject('npx', ['--no-install', 'fastvision', 'info', '--json']));
    expect(info.backend.name).toBe('wasm');
    // Inference on ONNX Runtime, installed with fastvision: nothing else to do.
    expect(info.backend.inference).toMatchObject({ engine: 'ort', package: 'onnxruntime-node' });
  });
});
