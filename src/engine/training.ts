/**
 * Which engine runs training steps: a step compiled to one ONNX graph on ONNX Runtime
 * (`ort`) when it is installed, passed its self-check and the tfjs backend is a CPU
 * one that does not beat it; the tfjs backend otherwise.
 */
import { FastvisionError } from '../core/errors.js';
import { inferenceThreads, ortRuntime } from './ort/ortRuntime.js';

/** `'ort'`: the compiled step on ONNX Runtime; `'tfjs'`: the tfjs backend. */
export type TrainingEngineName = 'ort' | 'tfjs';

/** What trains, as `backendInfo().training` and `fastvision info` report it. */
export interface TrainingInfo {
  engine: TrainingEngineName;
  /** The package that computes: `onnxruntime-node`, or the tfjs backend's. */
  package: string;
  /** ONNX Runtime's version; null for tfjs (see the backend's). */
  version: string | null;
  /** Threads ONNX Runtime trains with (`FASTVISION_THREADS`, `initBackend({ threads })`); null for tfjs. */
  threads: number | null;
  /** The ONNX training self-check's result (`'passed'`), or null when it did not run. */
  selfCheck: string | null;
  /** Why this engine, in a phrase. */
  reason: string;
}

/** The tfjs backend, as far as choosing a trainer goes. */
export interface TrainingBackend {
  name: string;
  package: string;
  gpu: boolean;
  /** Forced by `initBackend({ backend })` or FASTVISION_BACKEND: then it trains. */
  forced: string | undefined;
  /** The self-check of the compiled ONNX step on this backend, when it ran. */
  ortSelfCheck: string | undefined;
}

/** `FASTVISION_TRAINING=ort|tfjs`, or undefined for the automatic choice. */
export function requestedTrainingEngine(): TrainingEngineName | undefined {
  const v = (process.env.FASTVISION_TRAINING ?? '').trim().toLowerCase();
  if (v === '') return undefined;
  if (v === 'tfjs' || v === 'ort') return v;
  throw new FastvisionError('BAD_OPTION', `FASTVISION_TRAINING is '${process.env.FASTVISION_TRAINING}'; expected 'ort' (ONNX Runtime) or 'tfjs'`);
}

/**
 * The automatic choice: tfjs on a GPU (faster) and on tfjs-node (TensorFlow's CPU
 * kernels with oneDNN: expected faster than the compiled step, which reaches ~0.6×
 * PyTorch; not measurable here, see docs/performance.md), and when a backend was
 * forced; ONNX Runtime on wasm and cpu when it loads and passed its self-check.
 * `FASTVISION_TRAINING` overrides it.
 */
export function trainingInfo(backend: TrainingBackend): TrainingInfo {
  const requested = requestedTrainingEngine();
  const ort = ortRuntime();
  const tfjs = (reason: string): TrainingInfo => ({ engine: 'tfjs', package: backend.package, version: null, threads: null, selfCheck: backend.ortSelfCheck ?? null, reason });
  const onOrt = (reason: string): TrainingInfo => ({ engine: 'ort', package: 'onnxruntime-node', version: ort.ok ? ort.version : null, threads: inferenceThreads(), selfCheck: backend.ortSelfCheck ?? null, reason });
  if (requested === 'tfjs') return tfjs('forced by FASTVISION_TRAINING=tfjs');
  if (!ort.ok) {
    if (requested === 'ort') throw new FastvisionError('BACKEND', `FASTVISION_TRAINING=ort, but ${ort.reason}: install it (npm install onnxruntime-node)`);
    return tfjs(`${ort.reason}; the tfjs backend trains`);
  }
  const check = backend.ortSelfCheck;
  if (backend.name === 'webgpu' && requested !== 'ort') return tfjs('webgpu trains on its adapter (ONNX Runtime computes on the CPU, beside backends that keep tensors in its memory)');
  if (check !== 'passed') {
    const why = check === undefined ? 'its self-check has not run on this backend' : `its self-check ${check.startsWith('failed') ? check : `failed: ${check}`}`;
    if (requested === 'ort') throw new FastvisionError('BACKEND', `FASTVISION_TRAINING=ort, but the compiled ONNX training step cannot be used: ${why}`);
    return tfjs(`the compiled ONNX step is not used: ${why}`);
  }
  if (requested === 'ort') return onOrt('forced by FASTVISION_TRAINING=ort');
  if (backend.forced) return tfjs(`${backend.forced} (FASTVISION_TRAINING=ort trains on ONNX Runtime anyway)`);
  if (backend.gpu) return tfjs('the tfjs backend computes on a GPU');
  if (backend.name === 'node') return tfjs("tfjs-node's TensorFlow CPU kernels are expected faster than the compiled ONNX step");
  return onOrt(`installed and self-checked (faster than tfjs-${backend.name} on the CPU)`);
}
