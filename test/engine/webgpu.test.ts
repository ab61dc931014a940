import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/core/tf.js';
import { backendInfo, initBackend } from '../../src/index.js';
import { buildResnet, resnetConfigs } from '../../src/vision/archs/resnet.js';
import { useSwiftShader, useWebgpuPeers, swiftShaderIcd } from '../helpers/webgpu.js';
import { randomArray } from '../helpers/random.js';

/**
 * The webgpu backend (issue 23) on this machine's only adapter: SwiftShader, Vulkan on
 * the CPU from Debian's chromium. It proves the engine starts, says what it runs on and
 * computes what wasm computes; it says nothing of speed. Kept to tiny sizes: every
 * dispatch costs milliseconds there.
 */
beforeAll(() => {
  if (!useSwiftShader()) throw new Error(`the webgpu tests need SwiftShader (${swiftShaderIcd}): apt-get install chromium`);
  useWebgpuPeers();
});

const relative = (a: Float32Array | number[], b: Float32Array | number[]) => Math.hypot(...Array.from(a, (v, i) => v - b[i]!)) / Math.hypot(...b);

describe('the webgpu backend on a software adapter (SwiftShader)', () => {
  it('is never picked automatically: the automatic choice skips it, saying why', async () => {
    const info = await initBackend();
    expect(info.name).toBe('wasm');
    expect(info.reason).toMatch(/webgpu has only a software adapter, google swiftshader \(SwiftShader driver [\d.]+\), software: runs on the CPU \(force it with FASTVISION_BACKEND=webgpu\)/);
    expect(info.adapter).toBeNull();
  });

  it('forced, it starts, passes the self-check (conv, pool, depthwise forward and backward, read asynchronously) and reports the adapter', async () => {
    const info = await initBackend({ backend: 'webgpu' });
    expect(tf.getBackend()).toBe('webgpu');
    expect(info).toMatchObject({ name: 'webgpu', package: '@tensorflow/tfjs-backend-webgpu', version: '4.22.0', gpu: false, selfCheck: 'passed' });
    expect(info.adapter).toMatchObject({ vendor: 'google', architecture: 'swiftshader', software: true });
    // A software adapter is a CPU: tfjs trains on it (no ONNX Runtime beside a backend that cannot read synchronously), and it infers itself.
    expect(backendInfo().training.engine).toBe('tfjs');
    expect(backendInfo().inference.engine).toBe('tfjs');
    const computed = tf.add(tf.ones([64, 64]), 1); // large enough not to be forwarded to the CPU
    expect(() => computed.dataSync()).toThrow(/OffscreenCanvas/); // what every synchronous read meets here
    computed.dispose();
  });

  it("a conv2d + relu gradient equals tfjs-cpu's (8×16×16×4 → 8 filters)", async () => {
    await initBackend({ backend: 'webgpu' });
    const xs = randomArray(8 * 16 * 16 * 4, 'webgpu conv x');
    const ws = randomArray(3 * 3 * 4 * 8, 'webgpu conv w');
    const run = async () => {
      const x = tf.tensor4d(xs, [8, 16, 16, 4]);
      const w = tf.tensor4d(ws, [3, 3, 4, 8]);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))))([x, w]);
      const out = (await Promise.all([dx!.data(), dw!.data()])) as Float32Array[];
      tf.dispose([x, w, dx!, dw!]);
      return out;
    };
    const onGpu = await run();
    await tf.setBackend('cpu');
    const onCpu = await run();
    await tf.setBackend('webgpu');
    expect(relative(onGpu[0]!, onCpu[0]!)).toBeLessThan(1e-5);
    expect(relative(onGpu[1]!, onCpu[1]!)).toBeLessThan(1e-5);
  }, 300_000);

  it("resnet18's forward pass on webgpu equals wasm's (batch 2, 32 px), with no tensor left behind", async () => {
    await initBackend({ backend: 'webgpu' });
    let model = buildResnet(resnetConfigs.resnet18);
    const xs = randomArray(2 * 32 * 32 * 3, 'webgpu resnet x');
    const predict = async () => {
      const x = tf.tensor4d(xs, [2, 32, 32, 3]);
      const y = model.predict(x) as tf.Tensor;
      const out = (await y.data()) as Float32Array;
      tf.dispose([x, y]);
      return out;
    };
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const onGpu = await predict();
    console.log(`resnet18 forward on SwiftShader: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(tf.memory().numTensors).toBe(before);
    // Tensors cannot move off webgpu synchronously: the weights go over as values, into the same net built on wasm.
    const weights = await Promise.all(model.getWeights().map(async (w) => ({ shape: w.shape, values: (await w.data()) as Float32Array })));
    model.dispose();
    await initBackend({ backend: 'wasm' });
    model = buildResnet(resnetConfigs.resnet18);
    model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
    const onWasm = await predict();
    const diff = relative(onGpu, onWasm);
    console.log('resnet18 logits, webgpu vs wasm (norm-relative):', diff);
    expect(diff).toBeLessThan(1e-4);
    model.dispose();
  }, 300_000);
});
