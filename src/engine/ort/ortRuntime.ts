/**
 * ONNX Runtime for Node (`onnxruntime-node`, an optional dependency): loaded on first
 * use, with the thread count and the user's choice of inference engine.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { FastvisionError } from '../../core/errors.js';

const requireHere = createRequire(import.meta.url);

/** Which engine runs inference: ONNX Runtime when it loads (default), or tfjs. */
export type InferenceEngineName = 'ort' | 'tfjs';

/** What {@link ortRuntime} found. */
export type OrtStatus = { ok: true; ort: typeof Ort; version: string } | { ok: false; reason: string };

let status: OrtStatus | undefined;

/** onnxruntime-node, or why it is not there (loaded once). */
export function ortRuntime(): OrtStatus {
  if (status) return status;
  try {
    const ort = requireHere('onnxruntime-node') as typeof Ort;
    status = { ok: true, ort, version: ort.env.versions?.node ?? 'unknown' };
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    status = { ok: false, reason: missing ? 'onnxruntime-node is not installed' : `onnxruntime-node does not load: ${(err as Error).message.split('\n')[0]}` };
  }
  return status;
}

let threadsOverride: number | undefined;

/** Sets the inference thread count (`initBackend({ threads })`); undefined goes back to the default. */
export function setInferenceThreads(n: number | undefined): void {
  threadsOverride = n;
}

/** Threads ONNX Runtime computes with: `initBackend({ threads })`, else `FASTVISION_THREADS`, else every core. */
export function inferenceThreads(): number {
  if (threadsOverride) return threadsOverride;
  const env = Number(process.env.FASTVISION_THREADS);
  return Number.isInteger(env) && env > 0 ? env : os.availableParallelism();
}

/** `FASTVISION_INFERENCE=tfjs` forces tfjs; anything else (or nothing) means ONNX Runtime when it loads. */
export function requestedEngine(): InferenceEngineName | undefined {
  const v = (process.env.FASTVISION_INFERENCE ?? '').trim().toLowerCase();
  if (v === '') return undefined;
  if (v === 'tfjs' || v === 'ort') return v;
  throw new FastvisionError('BAD_OPTION', `FASTVISION_INFERENCE is '${process.env.FASTVISION_INFERENCE}'; expected 'ort' (ONNX Runtime, the default) or 'tfjs'`);
}

/**
 * How fastvision's sessions allocate. ONNX Runtime's memory pattern plans each run's
 * intermediate tensors as one block, which its CPU arena extends by powers of two and
 * keeps: for ResNet-18's training step at batch 32, 128 px, the process held 1.6 GB
 * after a step with it and 1.2 GB without it, at the same speed (measured 2026-12-04).
 * The arena itself stays: without it each run maps and faults in its memory afresh, and
 * steps took 1.6–1.9× as long, inference 2×.
 */
export const ortMemoryOptions = { enableCpuMemArena: true, enableMemPattern: false } as const;
