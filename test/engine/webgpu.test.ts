import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/core/tf.js';
import { backendInfo, initBackend } from '../../src/index.js';
import { capabilities } from '../../src/engine/capabilities.js';
import { maxTensorBytes } from '../../src/engine/webgpu/deviceLimits.js';
import { FastvisionError } from '../../src/core/errors.js';
import { DataLoaders, visionLearner } from '../../src/index.js';
import { writePatterns } from '../helpers/patterns.js';
import { pretrainedConfigs } from '../../src/vision/pretrained.js';
import { loadSafetensors } from '../../src/vision/safetensors.js';
import { loadStateDict } from '../../src/vision/torchWeights.js';
import { tempDir } from '../helpers/images.js';
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
    expect(backendInfo().training).toMatchObject({ engine: 'tfjs', reason: expect.stringMatching(/^webgpu trains on its adapter/) });
    expect(backendInfo().inference).toMatchObject({ engine: 'tfjs', reason: 'webgpu infers on its adapter' });
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

  it.each(['number', 'explicit'] as const)("every padding form the capability row claims (%s) runs in conv and depthwise forward and gradient kernels as on tfjs-cpu", async (form) => {
    await initBackend({ backend: 'webgpu' });
    const caps = capabilities('webgpu');
    expect(caps.verified).toBe(true);
    expect(caps.forwardPadding).toContain(form);
    expect(caps.gradientPadding).toContain(form);
    const pad = form === 'number' ? 1 : ([[0, 0], [1, 0], [0, 1], [0, 0]] as [number, number][]); // asymmetric, as a stride-2 layer of PyTorch pads
    const xs = randomArray(2 * 9 * 9 * 4, 'webgpu pad x');
    const run = async (depthwise: boolean) => {
      const x = tf.tensor4d(xs, [2, 9, 9, 4]);
      const w = tf.tensor4d(randomArray(3 * 3 * 4 * (depthwise ? 1 : 5), 'webgpu pad w'), [3, 3, 4, depthwise ? 1 : 5]);
      const conv = (a: tf.Tensor, b: tf.Tensor) =>
        depthwise ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, pad as never) : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, pad as never);
      const y = conv(x, w);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(conv(a, b))))([x, w]);
      const out = (await Promise.all([y.data(), dx!.data(), dw!.data()])) as Float32Array[];
      tf.dispose([x, w, y, dx!, dw!]);
      return out;
    };
    for (const depthwise of [false, true]) {
      const onGpu = await run(depthwise);
      await tf.setBackend('cpu');
      const onCpu = await run(depthwise);
      await tf.setBackend('webgpu');
      for (const [i, what] of ['forward', 'input gradient', 'filter gradient'].entries()) expect(relative(onGpu[i]!, onCpu[i]!), `${depthwise ? 'depthwise' : 'conv'} ${what}`).toBeLessThan(1e-5);
    }
  }, 300_000);

  it('tf.image.transform warps every image of a batch (the row says batchedTransform)', async () => {
    await initBackend({ backend: 'webgpu' });
    expect(capabilities('webgpu').batchedTransform).toBe(true);
    const images = randomArray(3 * 8 * 8 * 2, 'webgpu transform');
    const matrices = [1, 0.1, 0.5, 0.05, 1, 0.3, 0, 0, 0.9, 0, 1, 0, 1.1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0];
    const batched = tf.image.transform(tf.tensor4d(images, [3, 8, 8, 2]), tf.tensor2d(matrices, [3, 8]), 'bilinear', 'constant', 0);
    const onGpu = (await batched.data()) as Float32Array;
    tf.dispose(batched);
    await tf.setBackend('cpu'); // its kernel warps the first image only, so one at a time
    const one = (k: number) => tf.image.transform(tf.tensor4d(images.slice(k * 128, (k + 1) * 128), [1, 8, 8, 2]), tf.tensor2d(matrices.slice(k * 8, (k + 1) * 8), [1, 8]), 'bilinear', 'constant', 0);
    const onCpu = (await tf.concat([0, 1, 2].map(one)).data()) as Float32Array;
    await tf.setBackend('webgpu');
    expect(relative(onGpu, onCpu)).toBeLessThan(1e-6);
  }, 300_000);

  it.each([
    ['resnet18', 'resnet18'],
    ['mobilenet_v2', 'mobilenetV2'],
  ] as const)("%s on webgpu gives PyTorch's eval-mode logits to 1e-4 (as on wasm), with no tensor left behind", async (stem, arch) => {
    await initBackend({ backend: 'webgpu' });
    const dir = tempDir('fastvision-webgpu-parity-');
    const py = spawnSync('/usr/bin/python3', [join(import.meta.dirname, '..', 'vision', 'torch_parity.py'), dir, '33', stem], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`the PyTorch side failed (apt-get install python3-torch python3-torchvision):\n${py.stderr}`);
    const config = pretrainedConfigs[arch];
    const model = config.build();
    loadStateDict(model, await loadSafetensors(join(dir, `${stem}.safetensors`)), { source: stem, ...(config.keyMap ? { keyMap: config.keyMap } : {}) });
    const io = await loadSafetensors(join(dir, `${stem}.io.safetensors`));
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const x = tf.tidy(() => tf.transpose(tf.tensor(io.get('input')!.values, io.get('input')!.shape), [0, 2, 3, 1]));
    const y = model.predict(x) as tf.Tensor;
    const logits = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    console.log(`${arch} forward on SwiftShader (batch 2, 33 px): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(tf.memory().numTensors).toBe(before);
    const expected = io.get('logits')!.values;
    const scale = Math.max(1, ...Array.from(expected, Math.abs));
    const worst = Math.max(...Array.from(expected, (e, i) => Math.abs(logits[i]! - e))) / scale;
    console.log(`${arch} logits, webgpu vs PyTorch (worst, relative to the largest):`, worst);
    expect(worst).toBeLessThanOrEqual(1e-4);
    model.dispose();
  }, 300_000);

  it("one training step of a BatchNorm-free net (padded conv, depthwise, ReLU6, max and global average pooling, dense, softmax cross-entropy): loss and every gradient equal wasm's to 1e-4 max-relative", async () => {
    const shapes = { w1: [3, 3, 3, 8], b1: [8], w2: [3, 3, 8, 1], w3: [1, 1, 8, 16], w4: [16, 5], b4: [5] } as const;
    const values = Object.fromEntries(Object.entries(shapes).map(([k, shape]) => [k, randomArray(shape.reduce((a: number, b: number) => a * b, 1), `bn-free ${k}`).map((v) => v * 0.5)]));
    const xs = randomArray(4 * 12 * 12 * 3, 'bn-free x');
    const step = async () => {
      const v = tf.tidy(() => Object.fromEntries(Object.entries(shapes).map(([k, shape]) => [k, tf.variable(tf.tensor(values[k]!, [...shape]))]))) as Record<keyof typeof shapes, tf.Variable>;
      const x = tf.tensor4d(xs, [4, 12, 12, 3]);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 3, 1, 4], 'int32'), 5));
      const { value, grads } = tf.variableGrads(() => {
        let h = tf.relu(tf.add(tf.conv2d(x, v.w1 as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), v.b1)) as tf.Tensor4D;
        h = tf.clipByValue(tf.depthwiseConv2d(h, v.w2 as tf.Tensor4D, 2, 'same'), 0, 6);
        h = tf.maxPool(h, 2, 2, 'valid');
        const pooled = tf.mean(tf.conv2d(h, v.w3 as tf.Tensor4D, 1, 'valid'), [1, 2]);
        return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(pooled as tf.Tensor2D, v.w4 as tf.Tensor2D), v.b4)) as tf.Scalar;
      }, Object.values(v));
      const names = Object.keys(shapes) as (keyof typeof shapes)[];
      const out = { loss: (await value.data())[0]!, grads: (await Promise.all(names.map((k) => grads[v[k].name]!.data()))) as Float32Array[] };
      tf.dispose([value, x, y, ...Object.values(grads), ...Object.values(v)]);
      return out;
    };
    await initBackend({ backend: 'webgpu' });
    const before = tf.memory().numTensors;
    const onGpu = await step();
    expect(tf.memory().numTensors).toBe(before);
    await initBackend({ backend: 'wasm' });
    const onWasm = await step();
    const maxRelative = (a: Float32Array, b: Float32Array) => Math.max(...Array.from(b, (e, i) => Math.abs(a[i]! - e))) / Math.max(...Array.from(b, Math.abs));
    const worst = Math.max(...onWasm.grads.map((g, i) => maxRelative(onGpu.grads[i]!, g)));
    console.log('BatchNorm-free step, webgpu vs wasm: loss', Math.abs(onGpu.loss - onWasm.loss) / onWasm.loss, 'worst gradient (max-relative)', worst);
    expect(Math.abs(onGpu.loss - onWasm.loss) / onWasm.loss).toBeLessThan(1e-4);
    expect(worst).toBeLessThan(1e-4);
  }, 300_000);

  it("a batch too large for the device's buffers is refused before it runs, naming the batch size that fits; an error the device reports fails the next batch", async () => {
    await initBackend({ backend: 'webgpu' });
    const data = await writePatterns(16);
    const limit = maxTensorBytes()!;
    expect(limit).toBeGreaterThan(0);
    // ResNet-18's largest tensor is its stem's output: 64 channels at half the image size, 4 bytes each.
    const perImage = (size: number) => Math.ceil(size / 2) ** 2 * 64 * 4;
    let size = 32;
    while (12 * perImage(size) <= limit) size += 32;
    const fits = Math.floor(limit / perImage(size));
    const dls = await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size, bs: 12, seed: 1 });
    const learn = await visionLearner(dls, 'resnet18', { pretrained: false, logger: () => {}, progress: false });
    const before = tf.memory().numTensors;
    const error = await learn.fit(1).catch((e: unknown) => e as FastvisionError);
    expect(error).toBeInstanceOf(FastvisionError);
    expect((error as FastvisionError).message).toMatch(
      new RegExp(`a batch of 12 images at ${size}×${size} px is too large for this GPU: layer '\\w+' would hold \\d+ MB in one tensor, over the device's \\d+ MB per buffer .* Use a batch size of ${fits} or less`),
    );
    expect(tf.memory().numTensors).toBe(before);

    // WebGPU reports errors as events, and tfjs goes on reading whatever the invalid buffers hold: the next batch fails instead.
    const small = await visionLearner(await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 32, bs: 4, seed: 1 }), 'resnet18', { pretrained: false, logger: () => {}, progress: false });
    const huge = tf.fill([Math.ceil(limit / 4 / 1024) + 1, 1024], 1);
    const sum = tf.tidy(() => tf.sum(tf.add(huge, 1)));
    expect((await sum.data())[0]).not.toBe(2 * huge.size); // what the device returns is wrong
    tf.dispose([huge, sum]);
    await expect(small.getPreds()).rejects.toThrow(/the GPU refused work \(GPUValidationError: Buffer size \(\d+\) exceeds the max buffer size limit .*try a batch size of \d+ \(bs \d+ now\)/);
    const p = await small.getPreds(); // reported once: the learner goes on
    tf.dispose([p.preds, p.targs]);
    for (const l of [learn, small]) {
      l.model.dispose();
      l.opt.dispose();
    }
  }, 300_000);
});
