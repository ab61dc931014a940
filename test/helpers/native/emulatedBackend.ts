import Module from 'node:module';
import { join } from 'node:path';
import * as tf from '../../../src/core/tf.js';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { attrMap, checkedOps, tfRefusal, type OpAttr } from './tfRules.js';

/**
 * A stand-in for tfjs-node's native binding, so that tfjs-node 4.22's own kernel
 * JavaScript can run here, where libtensorflow cannot be installed.
 *
 * - The backend registered as `'tensorflow'` is tfjs's cpu backend (every kernel
 *   computes with tfjs's cpu kernels) plus the `binding`, `executeSingleOutput` and
 *   `applyActivation` that tfjs-node's kernels call.
 * - The convolution, depthwise, pooling and fused kernels (and their gradients) are
 *   tfjs-node's real ones, loaded from its package. They refuse what tfjs-node refuses
 *   (e.g. "TF Backend supports only 'valid' and 'same' padding"); the op they then
 *   send to "TensorFlow" is checked against TensorFlow's attribute rules
 *   (`tfRules.ts`) and computed with the cpu kernel of the same op.
 * - Every refusal is recorded (`refusals`), and so is every read of tensor data from
 *   outside a kernel (`hostReads`): what a GPU would pay a device sync for.
 *
 * What it cannot prove: TensorFlow's own numerics and speed, CUDA, and the kernels
 * outside this family (they run as tfjs's cpu kernels, not as tfjs-node sends them).
 */

/** The conv, depthwise, pooling and fused kernels taken from tfjs-node, by file. */
export const nativeKernelFiles = [
  'Conv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'FusedConv2D',
  'FusedDepthwiseConv2D',
  'MaxPool',
  'MaxPoolGrad',
  'AvgPool',
  'AvgPoolGrad',
  '_FusedMatMul',
];

/** TF_DataType and TF_AttrType values of the C API, as the binding exports them. */
const bindingConstants = {
  TF_FLOAT: 1,
  TF_INT32: 3,
  TF_UINT8: 4,
  TF_STRING: 7,
  TF_COMPLEX64: 8,
  TF_INT64: 9,
  TF_BOOL: 10,
  TF_RESOURCE: 20,
  TF_ATTR_STRING: 0,
  TF_ATTR_INT: 1,
  TF_ATTR_FLOAT: 2,
  TF_ATTR_BOOL: 3,
  TF_ATTR_TYPE: 4,
  TF_ATTR_SHAPE: 5,
  TF_ATTR_RESOURCE: 9,
  TF_Version: '2.9.1 (emulated)',
};

/** A call refused by tfjs-node's JavaScript or by TensorFlow's rules. */
export interface Refusal {
  kernel: string;
  message: string;
}

/** What the emulation recorded since the last `reset()`. */
export interface EmulationLog {
  refusals: Refusal[];
  hostReads: number;
  /** TensorFlow ops executed, by name. */
  ops: Map<string, number>;
  reset(): void;
}

export const emulationLog: EmulationLog = {
  refusals: [],
  hostReads: 0,
  ops: new Map(),
  reset() {
    this.refusals = [];
    this.hostReads = 0;
    this.ops = new Map();
  },
};

function countRead(): void {
  emulationLog.hostReads++;
  if (process.env.FASTVISION_TRACE_READS) console.log(new Error('host read').stack!.split('\n').slice(2, 9).join('\n'));
}

/** Kernels running now (reads inside a kernel are the kernel's, not fastvision's). */
let kernelDepth = 0;

type TfjsAttrs = Record<string, unknown>;
type Inputs = tf.TensorInfo[];

/** Options of one emulated native package. */
export interface EmulationOptions {
  /** What `binding.isUsingGpuDevice()` says. Default false. */
  gpu?: boolean;
  /** Make every TensorFlow op throw this (a library that loads but cannot compute). */
  opsThrow?: string;
}

class EmulatedTensorflowBackend extends MathBackendCPU {
  readonly binding: typeof bindingConstants & { isUsingGpuDevice(): boolean };
  readonly isUsingGpuDevice: boolean;

  constructor(private readonly opts: EmulationOptions) {
    super();
    // The cpu backend's "install tfjs-node" banner would be an artefact of the emulation.
    (this as unknown as { firstUse: boolean }).firstUse = false;
    this.isUsingGpuDevice = opts.gpu ?? false;
    this.binding = { ...bindingConstants, isUsingGpuDevice: () => this.isUsingGpuDevice };
  }

  override readSync(dataId: object): tf.backend_util.BackendValues {
    if (kernelDepth === 0) countRead();
    return super.readSync(dataId);
  }

  override read(dataId: object): Promise<tf.backend_util.BackendValues> {
    if (kernelDepth === 0) countRead();
    // The cpu backend's read calls its readSync at once: one read, not two.
    kernelDepth++;
    try {
      return super.read(dataId);
    } finally {
      kernelDepth--;
    }
  }

  /** NodeJSKernelBackend's: runs one TensorFlow op, returns its output as a tensor (tfjs-node's kernels compute on it further). */
  executeSingleOutput(name: string, opAttrs: OpAttr[], inputs: Inputs): tf.Tensor {
    return this.executeMultipleOutputs(name, opAttrs, inputs, 1)[0]!;
  }

  executeMultipleOutputs(name: string, opAttrs: OpAttr[], inputs: Inputs, numOutputs: number): tf.Tensor[] {
    return this.executeOp(name, opAttrs, inputs, numOutputs).map((info) => tf.engine().makeTensorFromTensorInfo(info));
  }

  /** The binding's `executeOp`: TensorFlow's attribute rules, then the cpu kernel of the same op. */
  private executeOp(name: string, opAttrs: OpAttr[], inputs: Inputs, _numOutputs: number): tf.TensorInfo[] {
    emulationLog.ops.set(name, (emulationLog.ops.get(name) ?? 0) + 1);
    if (this.opts.opsThrow) throw new Error(this.opts.opsThrow);
    const attrs = attrMap(opAttrs);
    const refusal = tfRefusal(name, attrs);
    if (refusal) {
      emulationLog.refusals.push({ kernel: `TensorFlow ${name}`, message: refusal });
      throw new Error(`Invalid argument: ${refusal} [Op:${name}]`);
    }
    const compute = tfOps[name];
    if (!compute) throw new Error(`the emulated binding does not implement TensorFlow op '${name}'`);
    return [compute(inputs, attrs, this)];
  }

  /** Values of a small int32 tensor (shapes passed as tensors), read as TensorFlow would: not a host read of fastvision's. */
  shapeOf(t: tf.TensorInfo): number[] {
    return Array.from(this.data.get(t.dataId)!.values as Int32Array);
  }
}

/** TensorFlow NHWC attributes → tfjs kernel attributes. */
function convAttrs(attrs: TfjsAttrs): { strides: [number, number]; dilations: [number, number]; pad: 'valid' | 'same' | number[][] } {
  const [, sh, sw] = attrs['strides'] as number[];
  const [, dh, dw] = (attrs['dilations'] as number[] | undefined) ?? [1, 1, 1, 1];
  const p = attrs['explicit_paddings'] as number[];
  const pad =
    attrs['padding'] === 'EXPLICIT'
      ? [
          [0, 0],
          [p[2]!, p[3]!],
          [p[4]!, p[5]!],
          [0, 0],
        ]
      : ((attrs['padding'] as string).toLowerCase() as 'valid' | 'same');
  return { strides: [sh!, sw!], dilations: [dh!, dw!], pad };
}

function cpuKernel(name: string, inputs: Record<string, tf.TensorInfo>, attrs: TfjsAttrs, backend: EmulatedTensorflowBackend): tf.TensorInfo {
  const out = tf.getKernel(name, 'cpu')!.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend });
  return Array.isArray(out) ? out[0]! : out;
}

const tfOps: Record<string, (inputs: Inputs, attrs: TfjsAttrs, backend: EmulatedTensorflowBackend) => tf.TensorInfo> = {
  Conv2D: ([x, filter], a, b) => cpuKernel('Conv2D', { x: x!, filter: filter! }, { ...convAttrs(a), dataFormat: 'NHWC' }, b),
  Conv2DBackpropInput: ([sizes, filter, dy], a, b) =>
    cpuKernel('Conv2DBackpropInput', { dy: dy!, filter: filter! }, { ...convAttrs(a), dataFormat: 'NHWC', inputShape: b.shapeOf(sizes!) }, b),
  Conv2DBackpropFilter: ([x, sizes, dy], a, b) => filterGradient(x!, dy!, b.shapeOf(sizes!) as Shape4, convAttrs(a), b),
  DepthwiseConv2dNative: ([x, filter], a, b) => cpuKernel('DepthwiseConv2dNative', { x: x!, filter: filter! }, convAttrs(a), b),
  DepthwiseConv2dNativeBackpropInput: ([sizes, filter, dy], a, b) =>
    cpuKernel('DepthwiseConv2dNativeBackpropInput', { dy: dy!, filter: filter! }, { ...convAttrs(a), inputShape: b.shapeOf(sizes!) }, b),
  DepthwiseConv2dNativeBackpropFilter: ([x, sizes, dy], a, b) =>
    cpuKernel('DepthwiseConv2dNativeBackpropFilter', { x: x!, dy: dy! }, { ...convAttrs(a), filterShape: b.shapeOf(sizes!) }, b),
  MaxPool: ([x], a, b) => cpuKernel('MaxPool', { x: x! }, { ...poolAttrs(a) }, b),
  MaxPoolGrad: ([input, output, dy], a, b) => cpuKernel('MaxPoolGrad', { dy: dy!, input: input!, output: output! }, poolAttrs(a), b),
  AvgPool: ([x], a, b) => cpuKernel('AvgPool', { x: x! }, poolAttrs(a), b),
  // The cpu kernel reads only the input's shape.
  AvgPoolGrad: ([shape, dy], a, b) => cpuKernel('AvgPoolGrad', { dy: dy!, input: { ...dy!, shape: b.shapeOf(shape!) } }, poolAttrs(a), b),
};

type Shape4 = [number, number, number, number];

/**
 * Conv2DBackpropFilter as im2col and one matmul. tfjs's cpu kernel computes the same
 * sums in an order that made it 80 times slower than everything else in a ResNet
 * step (33 s of 40), which would make this test too slow for CI.
 */
function filterGradient(x: tf.TensorInfo, dy: tf.TensorInfo, filterShape: Shape4, c: ReturnType<typeof convAttrs>, b: EmulatedTensorflowBackend): tf.TensorInfo {
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, c.strides, c.dilations, c.pad as 'valid', undefined, false, 'channelsLast');
  const [n, h, w, ci] = x.shape as Shape4;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const xv = b.data.get(x.dataId)!.values as Float32Array;
  const k = kh * kw * ci;
  const cols = new Float32Array(n * oh * ow * k);
  for (let bi = 0, row = 0; bi < n; bi++)
    for (let y = 0; y < oh; y++)
      for (let z = 0; z < ow; z++, row++)
        for (let i = 0; i < kh; i++) {
          const yy = y * sh + i * dh - top;
          for (let j = 0; j < kw; j++) {
            const xx = z * sw + j * dw - left;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const from = ((bi * h + yy) * w + xx) * ci;
            cols.set(xv.subarray(from, from + ci), row * k + (i * kw + j) * ci);
          }
        }
  const a = b.makeTensorInfo([1, n * oh * ow, k], 'float32', cols);
  const g = cpuKernel('Reshape', { x: dy }, { shape: [1, n * oh * ow, filterShape[3]] }, b);
  const product = cpuKernel('BatchMatMul', { a, b: g }, { transposeA: true, transposeB: false }, b);
  const out = cpuKernel('Reshape', { x: product }, { shape: filterShape }, b);
  for (const t of [a, g, product]) b.disposeIntermediateTensorInfo(t);
  return out;
}

function poolAttrs(a: TfjsAttrs): TfjsAttrs {
  const [, kh, kw] = a['ksize'] as number[];
  const { strides, pad } = convAttrs(a);
  return { filterSize: [kh!, kw!], strides, pad };
}

/** Resolves `@tensorflow/tfjs*` to fastvision's copy for modules under `dir` (the cached tfjs-node). */
function redirectTfjs(dir: string): void {
  const M = Module as unknown as { _resolveFilename: (request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) => string };
  const resolve = M._resolveFilename;
  const ours = join(import.meta.dirname, '..', '..', '..');
  M._resolveFilename = function (request, parent, ...rest) {
    if (request.startsWith('@tensorflow/tfjs') && !request.startsWith('@tensorflow/tfjs-node') && parent?.filename?.startsWith(dir)) {
      return resolve.call(this, request, { ...parent, filename: join(ours, 'index.js'), paths: [join(ours, 'node_modules')] } as never, ...rest);
    }
    return resolve.call(this, request, parent, ...rest);
  };
}

const loaded = new Set<string>();

/**
 * Registers the `'tensorflow'` backend with tfjs: cpu kernels, then tfjs-node's own
 * kernels from `tfjsNodeDir` for the conv family, each recording refusals.
 */
export function registerEmulatedTensorflow(tfjsNodeDir: string, opts: EmulationOptions = {}): void {
  if (!loaded.has(tfjsNodeDir)) {
    redirectTfjs(tfjsNodeDir);
    loaded.add(tfjsNodeDir);
  }
  const req = Module.createRequire(join(tfjsNodeDir, 'package.json'));
  // tfjs-node's fused kernels call NodeJSKernelBackend.applyActivation: borrow its own.
  type WithActivation = { applyActivation: unknown };
  const native = req('./dist/nodejs_kernel_backend.js') as { NodeJSKernelBackend: { prototype: WithActivation } };
  (EmulatedTensorflowBackend.prototype as unknown as WithActivation).applyActivation = native.NodeJSKernelBackend.prototype.applyActivation;
  if (tf.findBackend('tensorflow')) tf.removeBackend('tensorflow');
  for (const k of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(k.kernelName, 'tensorflow');
  tf.registerBackend('tensorflow', () => new EmulatedTensorflowBackend(opts), 3);
  const counted = (config: tf.KernelConfig, record: boolean): tf.KernelConfig => ({
    ...config,
    backendName: 'tensorflow',
    kernelFunc: (args) => {
      kernelDepth++;
      try {
        return config.kernelFunc(args);
      } catch (err) {
        if (record && !/^Invalid argument: /.test((err as Error).message)) emulationLog.refusals.push({ kernel: config.kernelName, message: (err as Error).message });
        throw err;
      } finally {
        kernelDepth--;
      }
    },
  });
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel(counted(k.kernelName === 'Transform' ? perImageTransform(k) : k, false));
  for (const file of nativeKernelFiles) {
    const exports = req(`./dist/kernels/${file}.js`) as Record<string, tf.KernelConfig>;
    const config = Object.values(exports).find((v) => v && typeof v === 'object' && 'kernelFunc' in v)!;
    tf.unregisterKernel(config.kernelName, 'tensorflow');
    tf.registerKernel(counted(config, true));
  }
}

/**
 * TensorFlow's ImageProjectiveTransformV3 warps every image of the batch; tfjs 4.22's
 * cpu kernel, which the emulation computes with, stops after the first. This one runs
 * the cpu kernel image by image, so the emulated backend computes what TensorFlow does.
 */
function perImageTransform(cpu: tf.KernelConfig): tf.KernelConfig {
  return {
    ...cpu,
    kernelFunc: (args) => {
      const backend = args.backend as MathBackendCPU;
      const { image, transforms } = args.inputs as { image: tf.TensorInfo; transforms: tf.TensorInfo };
      const [n, h, w, c] = image.shape as [number, number, number, number];
      const pixels = backend.data.get(image.dataId).values as Float32Array;
      const params = backend.data.get(transforms.dataId).values as Float32Array;
      const parts: Float32Array[] = [];
      let outShape: number[] = [];
      for (let i = 0; i < n; i++) {
        const one = backend.makeTensorInfo([1, h, w, c], image.dtype, pixels.slice(i * h * w * c, (i + 1) * h * w * c));
        const row = backend.makeTensorInfo([1, 8], transforms.dtype, params.slice(transforms.shape[0] === 1 ? 0 : i * 8, (transforms.shape[0] === 1 ? 0 : i * 8) + 8));
        const out = cpu.kernelFunc({ ...args, inputs: { image: one, transforms: row } }) as tf.TensorInfo;
        parts.push(backend.data.get(out.dataId).values as Float32Array);
        outShape = out.shape;
        for (const t of [one, row, out]) backend.disposeData(t.dataId);
      }
      const all = new Float32Array(parts.reduce((k, p) => k + p.length, 0));
      parts.forEach((p, i) => all.set(p, i * p.length));
      return backend.makeTensorInfo([n, ...outShape.slice(1)], image.dtype, all);
    },
  };
}

/** The ops the rules check, for tests that list what ran. */
export { checkedOps };
