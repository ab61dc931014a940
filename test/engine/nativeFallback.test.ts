import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tfjsNodeJs } from '../helpers/native/install.js';

const tsx = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx');
const script = join(import.meta.dirname, 'fixtures', 'nativeStart.ts');

interface Started {
  ok: boolean;
  error?: string;
  info?: { name: string; package: string; gpu: boolean; selfCheck: string; reason: string };
  backend?: string;
  gradSum?: number;
  utilRemoved?: boolean;
  /** fastvision's own lines on stderr. */
  lines: string[];
}

/** Starts fastvision's backend in a fresh process next to a fake native package. */
function start(pkg: string, flavour: string, mode: 'auto' | 'forced', env: Record<string, string> = {}): Started {
  const run = spawnSync(tsx, [script, pkg, flavour, mode], { encoding: 'utf8', env: { ...process.env, FASTVISION_BACKEND: '', ...env }, timeout: 120_000 });
  const line = run.stdout.trim().split('\n').at(-1)!;
  if (!line?.startsWith('{')) throw new Error(`the child printed no result:\n${run.stdout}\n${run.stderr}`);
  return { ...(JSON.parse(line) as Omit<Started, 'lines'>), lines: run.stderr.split('\n').filter((l) => l.startsWith('fastvision:')) };
}

// The sum of a 'same' 3×3 conv of ones over a 5×5×2 image, differentiated by the filter: every tap's count of in-bounds positions, summed.
const expectedGradSum = 2 * (5 * 5 + 4 * 5 * 4 + 4 * 4 * 4);

beforeAll(() => {
  tfjsNodeJs(); // install once, before children race for it
}, 180_000);

describe('choosing a native backend', () => {
  it('a working tfjs-node is chosen after its self-check, with no warning', () => {
    const r = start('@tensorflow/tfjs-node', 'works', 'auto');
    expect(r).toMatchObject({ ok: true, backend: 'tensorflow', info: { name: 'node', gpu: false, selfCheck: 'passed', reason: 'best that works (@tensorflow/tfjs-node-gpu not installed; @tensorflow/tfjs-backend-webgpu and webgpu not installed)' } });
    expect(r.gradSum).toBe(expectedGradSum);
    expect(r.lines).toEqual([]);
  });

  it.each([
    ['the package fails to load (no libtensorflow)', 'importThrows', /loading it failed: libtensorflow\.so\.2: cannot open shared object file/],
    ['its backend factory throws (tfjs would only log it)', 'factoryThrows', /its backend does not start: Could not load dynamic library libcudart\.so\.11\.0|tf\.setBackend\('tensorflow'\) failed: Could not load dynamic library libcudart\.so\.11\.0/],
    ['its ops fail on first use', 'opsThrow', /No OpKernel was registered to support Op/],
    ['it brings a second @tensorflow/tfjs-core', 'secondCore', /uses its own @tensorflow\/tfjs-core 4\.21\.0 .* two copies do not work together.*npm ls @tensorflow\/tfjs-core/],
  ])('%s: fastvision falls back to wasm with one line naming the real error', (_, flavour, why) => {
    const r = start('@tensorflow/tfjs-node', flavour, 'auto');
    expect(r).toMatchObject({ ok: true, backend: 'wasm', info: { name: 'wasm' } });
    expect(r.gradSum).toBe(expectedGradSum);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^fastvision: @tensorflow\/tfjs-node is installed but does not work here \(/);
    expect(r.lines[0]).toMatch(why);
    expect(r.lines[0]).toMatch(/using @tensorflow\/tfjs-backend-wasm instead$/);
  });

  it('forced, a broken package is a clear error, not a crash at the first convolution', () => {
    const r = start('@tensorflow/tfjs-node', 'importThrows', 'forced');
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/backend 'node' \(@tensorflow\/tfjs-node\) is installed but failed to start: loading it failed: libtensorflow\.so\.2/);
  });

  it('on a Node without util.isNullOrUndefined (Node ≥ 23), tfjs-node 4.22 works through fastvision’s shim', () => {
    const r = start('@tensorflow/tfjs-node', 'works', 'auto', { REMOVE_NODE_UTIL: '1' });
    expect(r).toMatchObject({ ok: true, backend: 'tensorflow', info: { name: 'node' }, utilRemoved: true });
    expect(r.gradSum).toBe(expectedGradSum);
  });

  it('tfjs-node-gpu that found no GPU reports gpu: false, from the backend itself, and says so', () => {
    const r = start('@tensorflow/tfjs-node-gpu', 'works', 'auto', { FAKE_GPU: '0' });
    expect(r).toMatchObject({ ok: true, info: { name: 'gpu', gpu: false } });
    expect(r.lines).toEqual([expect.stringMatching(/tfjs-node-gpu is computing on the CPU: .*CUDA 11\.2 and cuDNN 8\.1/)]);
    expect(start('@tensorflow/tfjs-node-gpu', 'works', 'auto', { FAKE_GPU: '1' }).info).toMatchObject({ name: 'gpu', gpu: true });
  });
});
