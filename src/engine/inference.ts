/**
 * Which engine runs a model's eval-mode forward passes (predictions, validation, the
 * frozen body's features): ONNX Runtime when it is installed and the model converts,
 * tfjs otherwise. tfjs stays the training engine.
 */
import * as tf from '../core/tf.js';
import { FastvisionError } from '../core/errors.js';
import { FusedInference } from './tfjs/fusedInference.js';
import { guardBatch } from './webgpu/deviceLimits.js';
import { nativeUsesGpu } from './tfjs/privateFields.js';
import { ortPredict, releaseSession } from './ort/ortInference.js';
import { inferenceThreads, ortRuntime, requestedEngine, type InferenceEngineName } from './ort/ortRuntime.js';

/** What runs inference, as `backendInfo().inference` and `fastvision info` report it. */
export interface InferenceInfo {
  /** `'ort'` (ONNX Runtime) or `'tfjs'` (the training backend). */
  engine: InferenceEngineName;
  /** The package that computes: `onnxruntime-node`, or the tfjs backend's. */
  package: string;
  /** Its version, for ORT; null for tfjs (see the backend's). */
  version: string | null;
  /** Threads ORT computes with (`FASTVISION_THREADS`, `initBackend({ threads })`); null for tfjs. */
  threads: number | null;
  /** Why this engine, in a phrase. */
  reason: string;
}

/**
 * The engine inference uses on the active backend: ORT unless `FASTVISION_INFERENCE=tfjs`,
 * ORT is missing, or the tfjs backend computes on a GPU (then the GPU is faster).
 */
export function inferenceInfo(backend: { package: string; gpu: boolean } = activeBackend()): InferenceInfo {
  const requested = requestedEngine();
  const ort = ortRuntime();
  const tfjs = (reason: string): InferenceInfo => ({ engine: 'tfjs', package: backend.package, version: null, threads: null, reason });
  if (requested === 'tfjs') return tfjs('forced by FASTVISION_INFERENCE=tfjs');
  if (!ort.ok) {
    if (requested === 'ort') throw new FastvisionError('BACKEND', `FASTVISION_INFERENCE=ort, but ${ort.reason}: install it (npm install onnxruntime-node)`);
    return tfjs(`${ort.reason}; tfjs runs inference`);
  }
  if (backend.gpu && requested !== 'ort') return tfjs(backend.package.includes('webgpu') ? 'webgpu infers on its adapter' : 'the tfjs backend computes on a GPU');
  return { engine: 'ort', package: 'onnxruntime-node', version: ort.version, threads: inferenceThreads(), reason: requested === 'ort' ? 'forced by FASTVISION_INFERENCE=ort' : 'installed (faster than tfjs on the CPU)' };
}

/** The tfjs backend running now, as far as choosing an inference engine goes. */
function activeBackend(): { package: string; gpu: boolean } {
  const name = tf.getBackend();
  const gpu = name === 'webgl' || name === 'webgpu' || (name === 'tensorflow' && nativeUsesGpu(tf.backend()));
  return { package: `tfjs ${name}`, gpu };
}

/**
 * Lets go of `model`'s ONNX Runtime session before training changes its weights (the
 * session would be rebuilt for the next validation anyway): its memory — ~250 MB for a
 * ResNet-18 at batch 64, 128 px — is free while the training step needs its own.
 */
export function releaseInference(model: tf.LayersModel): void {
  releaseSession(model);
}

/** Runs one model's eval-mode forward passes on the chosen engine. */
export interface InferenceRunner {
  /** The model's output for an NHWC batch; the caller disposes it. */
  run(x: tf.Tensor4D): Promise<tf.Tensor>;
  /** Frees what the runner holds (tfjs's folded weights; ORT sessions stay cached per model). */
  dispose(): void;
}

/** Models whose graph ORT cannot take (a layer with no ONNX form): they stay on tfjs, said once. */
const tfjsOnly = new WeakSet<tf.LayersModel>();

/**
 * A runner for `model`: ONNX Runtime when {@link inferenceInfo} says so (or `engine`),
 * else tfjs with BatchNorm folded into the convolutions (`fused`, default) or
 * tfjs-layers as is.
 */
export function inferenceRunner(model: tf.LayersModel, opts: { fused?: boolean; engine?: InferenceEngineName } = {}): InferenceRunner {
  const { fused = true, engine = inferenceInfo().engine } = opts;
  let tfjsRunner: FusedInference | undefined;
  const onTfjs = (x: tf.Tensor4D): tf.Tensor => {
    if (!fused) return tf.tidy(() => model.predict(x) as tf.Tensor);
    tfjsRunner ??= new FusedInference(model);
    return tfjsRunner.predict(x);
  };
  const ort = ortRuntime();
  return {
    async run(x) {
      guardBatch(model, x.shape);
      if (engine !== 'ort' || !ort.ok || tfjsOnly.has(model)) return onTfjs(x);
      try {
        return await ortPredict(ort.ort, model, x);
      } catch (err) {
        if (!(err instanceof FastvisionError && err.code === 'BAD_OPTION')) throw err;
        tfjsOnly.add(model);
        console.warn(`fastvision: inference runs on tfjs for this model: ${err.message}`);
        return onTfjs(x);
      }
    },
    dispose: () => tfjsRunner?.dispose(),
  };
}
