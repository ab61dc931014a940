import * as tf from '../../src/core/tf.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backendInfo, initBackend } from '../../src/index.js';
import { cpuBackendWarning } from '../../src/engine/backend.js';
import { registerWasmKernels, wasmKernelsRegistered } from '../../src/engine/tfjs/wasm-kernels/index.js';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('initBackend', () => {
  it('throws from backendInfo() before any backend started', () => {
    expect(() => backendInfo()).toThrow(/call `await initBackend\(\)` first/);
  });

  it('picks wasm when no native TensorFlow is installed, and says why', async () => {
    vi.stubEnv('FASTVISION_BACKEND', '');
    const listenersBefore = process.listeners('uncaughtException').length;
    const info = await initBackend();
    expect(info).toMatchObject({
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      version: tf.version_core,
      gpu: false,
      simd: expect.any(Boolean),
      threads: expect.any(Number),
    });
    expect(info.reason).toMatch(/@tensorflow\/tfjs-node not installed/);
    expect(backendInfo()).toEqual(info);
    expect(tf.getBackend()).toBe('wasm');
    expect(wasmKernelsRegistered()).toBe(true);
    // Emscripten's rethrowing process handlers are taken off again.
    expect(process.listeners('uncaughtException').length).toBe(listenersBefore);
  });

  it('registers the wasm kernels once, however often it is called', async () => {
    const warn = vi.spyOn(console, 'warn');
    const kernelsBefore = tf.getKernelsForBackend('wasm');
    await initBackend({ backend: 'wasm' });
    await initBackend({ backend: 'wasm' });
    const kernelsAfter = tf.getKernelsForBackend('wasm');
    expect(kernelsAfter.length).toBe(kernelsBefore.length);
    kernelsAfter.forEach((k, i) => expect(k).toBe(kernelsBefore[i]));
    // tfjs warns when a kernel name is registered twice.
    expect(warn).not.toHaveBeenCalled();
    expect(registerWasmKernels()).toBe(0);
  });

  it('FASTVISION_BACKEND forces a backend and names the npm package when it is missing', async () => {
    vi.stubEnv('FASTVISION_BACKEND', 'node');
    await expect(initBackend()).rejects.toThrow(/npm install @tensorflow\/tfjs-node`/);
    vi.stubEnv('FASTVISION_BACKEND', 'gpu');
    await expect(initBackend()).rejects.toThrow(/npm install @tensorflow\/tfjs-node-gpu`/);
  });

  it('rejects an unknown FASTVISION_BACKEND, naming the value and the choices', async () => {
    vi.stubEnv('FASTVISION_BACKEND', 'cuda');
    await expect(initBackend()).rejects.toThrow("FASTVISION_BACKEND='cuda' is not a backend; expected one of gpu, webgpu, node, wasm, cpu");
  });

  it('the cpu backend works when forced, with one warning however often it is chosen', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    vi.stubEnv('FASTVISION_BACKEND', 'cpu');
    const info = await initBackend();
    expect(info).toMatchObject({ name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', simd: null, threads: 1 });
    expect(info.reason).toBe('forced by FASTVISION_BACKEND');
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.sum(tf.tensor([1, 2, 3])).arraySync()).toBe(6);
    await initBackend({ backend: 'wasm' });
    await initBackend({ backend: 'cpu' });
    expect(warn.mock.calls.map((c) => c[0])).toEqual([cpuBackendWarning]);
    expect(cpuBackendWarning).toMatch(/~25x slower than wasm/);
    await initBackend({ backend: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
  });
});
