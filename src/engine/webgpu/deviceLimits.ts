/**
 * What a WebGPU device holds, checked before it is asked for more. A tensor larger
 * than the device's per-buffer limit is not an exception in WebGPU: the buffer is
 * invalid, the kernels writing it are dropped, and tfjs reads back whatever was there
 * (measured on SwiftShader: a 1 GB sum returned 36). So fastvision refuses such a
 * batch up front, naming the batch size that fits, and turns any error the device
 * reports later (out of memory, validation) into an exception at the next batch.
 */
import * as tf from '../../core/tf.js';
import { FastvisionError } from '../../core/errors.js';
import { nodeIn } from '../tfjs/privateFields.js';

interface GpuErrorEvent {
  error?: { message?: string; constructor?: { name?: string } };
}

interface GpuDevice {
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  addEventListener(type: 'uncapturederror', listener: (event: GpuErrorEvent) => void): void;
}

/** The device under tfjs-backend-webgpu (`WebGPUBackend.device`), or undefined on any other backend. */
function deviceOf(backend: object): GpuDevice | undefined {
  const device = (backend as { device?: GpuDevice }).device;
  return device?.limits ? device : undefined;
}

/** The most bytes one tensor may have on the active webgpu device; undefined on other backends. */
export function maxTensorBytes(): number | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const limits = deviceOf(tf.backend())?.limits;
  return limits && Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/** The largest tensor one input makes in `model` (its gradient has the same size), and the layer that makes it. */
export interface LargestActivation {
  layer: string;
  bytesPerImage: number;
}

const largest = new WeakMap<tf.LayersModel, Map<string, LargestActivation>>();

/** Walks the model's graph with each layer's `computeOutputShape`: no tensor is made. */
export function largestActivation(model: tf.LayersModel, sample: readonly number[]): LargestActivation {
  const key = sample.join('x');
  const known = largest.get(model)?.get(key);
  if (known) return known;
  const shapes = new Map<tf.SymbolicTensor, number[]>();
  let best: LargestActivation = { layer: 'input', bytesPerImage: 0 };
  const note = (layer: string, shape: number[]) => {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    if (bytes > best.bytesPerImage) best = { layer, bytesPerImage: bytes };
  };
  const input = model.inputs[0]!;
  shapes.set(input, [1, ...sample]);
  note('input', [1, ...sample]);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = nodeIn(model, layer);
    const inputs = node.inputTensors.map((t) => shapes.get(t));
    if (inputs.some((s) => !s)) continue; // not reachable from the model's inputs
    const out = layer.computeOutputShape(inputs.length === 1 ? inputs[0]! : (inputs as number[][])) as number[] | number[][];
    const outs = Array.isArray(out[0]) ? (out as number[][]) : [out as number[]];
    node.outputTensors.forEach((t, i) => {
      shapes.set(t, outs[i]!);
      note(layer.name, outs[i]!);
    });
  }
  if (!largest.has(model)) largest.set(model, new Map());
  largest.get(model)!.set(key, best);
  return best;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/**
 * Throws when a batch of `shape` (NHWC) would make a tensor in `model` larger than the
 * webgpu device holds in one buffer, naming the batch size that fits. Does nothing on
 * other backends.
 */
export function checkBatchFits(model: tf.LayersModel, shape: readonly number[]): void {
  const limit = maxTensorBytes();
  if (limit === undefined) return;
  const [n, ...sample] = shape as number[];
  const { layer, bytesPerImage } = largestActivation(model, sample);
  if (n! * bytesPerImage <= limit) return;
  const fits = Math.floor(limit / bytesPerImage);
  const advice = fits >= 1 ? `Use a batch size of ${fits} or less (the bs option of DataLoaders.from…, or dl.with({ bs }))` : 'Even one image is too large: use a smaller image size';
  const what = sample.length === 3 ? `images at ${sample[0]}×${sample[1]} px` : `inputs of shape [${sample.join(', ')}]`;
  throw new FastvisionError(
    'TRAINING',
    `a batch of ${n} ${what} is too large for this GPU: layer '${layer}' would hold ${mb(n! * bytesPerImage)} in one tensor, over the device's ${mb(limit)} per buffer (WebGPU's maxStorageBufferBindingSize / maxBufferSize). ${advice}.`,
  );
}

let deviceError: string | undefined;
const watched = new WeakSet<object>();

/**
 * Records the first error the webgpu device reports (they arrive as events, not
 * exceptions: out of memory, a validation error), for {@link throwIfDeviceFailed}.
 */
export function watchDeviceErrors(backend: object = tf.backend()): void {
  const device = deviceOf(backend);
  if (!device || watched.has(device)) return;
  watched.add(device);
  // A listener, not `onuncapturederror`: a handler the user set stays.
  device.addEventListener('uncapturederror', (event) => {
    deviceError ??= `${event.error?.constructor?.name ?? 'GPUError'}: ${(event.error?.message ?? 'unknown').split('\n')[0]}`;
  });
}

/** Throws (once) the device error recorded since the last call: what was computed after it is not to be trusted. */
export function throwIfDeviceFailed(batchSize: number): void {
  if (deviceError === undefined) return;
  const error = deviceError;
  deviceError = undefined;
  const smaller = Math.max(1, Math.floor(batchSize / 2));
  throw new FastvisionError(
    'TRAINING',
    `the GPU refused work (${error}); results computed since then are invalid. If it ran out of memory, try a batch size of ${smaller} (bs ${batchSize} now) or smaller images.`,
  );
}

/** Before a batch of `shape` goes into `model`: any device error since the last batch, then the size check. Nothing on other backends. */
export function guardBatch(model: tf.LayersModel, shape: readonly number[]): void {
  throwIfDeviceFailed(shape[0]!);
  checkBatchFits(model, shape);
}
