import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname } from 'node:path';
import util from 'node:util';
import * as tf from '../core/tf.js';
import { capabilities, describeSpeedUps } from './capabilities.js';
import { inferenceInfo, type InferenceInfo } from './inference.js';
import { ortRuntime, setInferenceThreads } from './ort/ortRuntime.js';
import { ortTrainSelfCheck } from './ort/trainSelfCheck.js';
import { trainingInfo, type TrainingInfo } from './training.js';
import { selfCheck } from './selfCheck.js';
import { checkPrivateFields, nativeUsesGpu, silenceCpuBanner } from './tfjs/privateFields.js';
import { registerWasmKernels } from './tfjs/wasm-kernels/index.js';
import { describeAdapter, webgpuAdapter, type GpuAdapterInfo } from './webgpu/webgpuRuntime.js';
import { watchDeviceErrors } from './webgpu/deviceLimits.js';
import { FastvisionError } from '../core/errors.js';

/** The backends fastvision can train on, best first. */
export type BackendName = 'gpu' | 'webgpu' | 'node' | 'wasm' | 'cpu';

/** What {@link initBackend} chose, as {@link backendInfo} reports it. */
export interface BackendInfo {
  /** fastvision's name for the backend. */
  name: BackendName;
  /** The npm package that provides it. */
  package: string;
  /** That package's installed version. */
  version: string;
  /** Whether wasm SIMD is in use (`null` where the question does not apply: native and cpu backends). */
  simd: boolean | null;
  /** Threads the backend computes with. */
  threads: number;
  /** True when the backend computes on a GPU, as the backend itself reports it (tfjs-node-gpu without cuDNN runs on the CPU; a software WebGPU adapter is the CPU too). */
  gpu: boolean;
  /** The WebGPU adapter (`webgpu` backend only; null on the others). */
  adapter: GpuAdapterInfo | null;
  /** What the self-check (a tiny convolution forward and backward, read back) found: `'passed'`. */
  selfCheck: string;
  /** The speed-ups fastvision uses on this backend (from its capability table), in a phrase. */
  speedUps: string;
  /** Why this backend was chosen, in a sentence (forced by option or environment, or the best that works). */
  reason: string;
  /** What runs inference (predictions, validation, frozen features): ONNX Runtime or this tfjs backend. */
  inference: InferenceInfo;
  /** What runs training steps: the step compiled to ONNX on ONNX Runtime, or this tfjs backend. */
  training: TrainingInfo;
}

/** Options for {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Force a backend instead of picking the best that works. Defaults to the
   * `FASTVISION_BACKEND` environment variable, then to automatic choice.
   */
  backend?: BackendName;
  /**
   * Threads ONNX Runtime infers with. Defaults to the `FASTVISION_THREADS` environment
   * variable, then to every core.
   */
  threads?: number;
}

/** One row of {@link backendSpecs}: the npm package behind a backend and the name it registers with tfjs. */
export interface BackendSpec {
  /** The npm package to install. */
  package: string;
  /** The name the package registers with tfjs. */
  tfjsName: string;
  /** Other packages it needs installed beside it. */
  requires?: readonly string[];
}

/**
 * The order and packages of {@link BackendName}s: data, not code.
 *
 * @example
 * ```ts
 * backendSpecs.gpu.package;   // '@tensorflow/tfjs-node-gpu': what to `npm install` for that backend
 * ```
 */
export const backendSpecs: Readonly<Record<BackendName, BackendSpec>> = {
  gpu: { package: '@tensorflow/tfjs-node-gpu', tfjsName: 'tensorflow' },
  webgpu: { package: '@tensorflow/tfjs-backend-webgpu', tfjsName: 'webgpu', requires: ['webgpu'] },
  node: { package: '@tensorflow/tfjs-node', tfjsName: 'tensorflow' },
  wasm: { package: '@tensorflow/tfjs-backend-wasm', tfjsName: 'wasm' },
  cpu: { package: '@tensorflow/tfjs-backend-cpu', tfjsName: 'cpu' },
};

const backendOrder = Object.keys(backendSpecs) as BackendName[];

/** Shown once when the pure-JS backend is chosen; numbers measured on a 2-core x86 machine. */
export const cpuBackendWarning =
  'fastvision: training on the pure-JS cpu backend, which is ~25x slower than wasm ' +
  '(one MobileNetV2 training step, batch 16 at 128 px, took 288 s on cpu vs ~11 s on wasm). ' +
  'Install @tensorflow/tfjs-node (or -gpu) for native speed, or make @tensorflow/tfjs-backend-wasm work.';

const processEvents = ['uncaughtException', 'unhandledRejection'];
const requireHere = createRequire(import.meta.url);
let current: BackendInfo | undefined;
/** What the training choice needs beyond {@link current}: whether the backend was forced, and the ONNX step's self-check on it. */
let trainingFacts: { forced: string | undefined; ortSelfCheck: string | undefined } = { forced: undefined, ortSelfCheck: undefined };
let pending: Promise<BackendInfo> | undefined;
let pendingKey: string | undefined;
let warnedCpu = false;

/**
 * Picks and starts the fastest tfjs backend that is installed and works:
 * `@tensorflow/tfjs-node-gpu` → `@tensorflow/tfjs-node` → wasm → cpu.
 * `FASTVISION_BACKEND=gpu|node|wasm|cpu` (or `{ backend }`) forces one; a forced
 * backend that is missing or broken is an error naming the package to install.
 *
 * Safe to call many times: later calls return the backend already running.
 *
 * @example
 * ```ts
 * const info = await initBackend();            // best available
 * await initBackend({ backend: 'wasm' });      // or force one
 * console.log(info.name, info.version);
 * ```
 *
 * @param opts - `backend` forces one (default: `FASTVISION_BACKEND`, else the best that works).
 * @returns What started, as {@link backendInfo} reports it.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new FastvisionError('BAD_OPTION', `initBackend: threads must be a whole number ≥ 1, got ${opts.threads}`);
    setInferenceThreads(opts.threads);
  }
  const forced = opts.backend ?? parseBackendEnv(process.env.FASTVISION_BACKEND);
  const key = forced ?? 'auto';
  if (current && (forced == null || forced === current.name) && tf.getBackend() === backendSpecs[current.name].tfjsName) {
    return backendInfo();
  }
  if (pending && pendingKey === key) return pending;
  pendingKey = key;
  const why = opts.backend ? 'forced by the backend option' : 'forced by FASTVISION_BACKEND';
  pending = (forced ? startForced(forced, why) : startBest()).finally(() => {
    pending = undefined;
    pendingKey = undefined;
  });
  return pending;
}

/**
 * Starts the best backend unless {@link initBackend} already ran (or is running).
 * fastvision's entry points call it, so that a program that never calls
 * `initBackend()` trains on wasm (or native TensorFlow), not on tfjs's pure-JS
 * default. Call it yourself before using tfjs directly.
 *
 * @example
 * ```ts
 * await ensureBackend();   // no-op after initBackend(); otherwise starts the best backend
 * const x = tf.zeros([1, 224, 224, 3]);
 * ```
 */
export async function ensureBackend(): Promise<void> {
  if (current) return;
  await (pending ?? initBackend());
}

/**
 * The backend {@link initBackend} started: its name, package, version, SIMD, threads
 * and whether it is the CUDA build, and the engine that runs inference.
 *
 * @throws if `initBackend()` has not finished yet.
 *
 * @example
 * ```ts
 * await initBackend();
 * const { name, simd, threads, reason } = backendInfo();   // e.g. 'wasm', true, 1, 'best that works (...)'
 * ```
 */
export function backendInfo(): BackendInfo {
  if (!current) throw new FastvisionError('BACKEND', 'fastvision: no backend yet; call `await initBackend()` first');
  // Read now: FASTVISION_INFERENCE, FASTVISION_TRAINING and the thread count may change after the backend started.
  return { ...current, inference: inferenceInfo(inferenceSide(current)), training: trainingInfo({ name: current.name, package: current.package, gpu: current.gpu, ...trainingFacts }) };
}

function parseBackendEnv(value: string | undefined): BackendName | undefined {
  if (value == null || value.trim() === '') return undefined;
  const name = value.trim().toLowerCase();
  if ((backendOrder as string[]).includes(name)) return name as BackendName;
  throw new FastvisionError('BAD_OPTION', `fastvision: FASTVISION_BACKEND='${value}' is not a backend; expected one of ${backendOrder.join(', ')}`);
}

async function startForced(name: BackendName, reason: string): Promise<BackendInfo> {
  if (!(backendOrder as string[]).includes(name)) {
    throw new FastvisionError('BAD_OPTION', `fastvision: backend '${String(name)}' is not a backend; expected one of ${backendOrder.join(', ')}`);
  }
  const spec = backendSpecs[name];
  const missing = packagesOf(spec).filter((p) => !isInstalled(p));
  if (missing.length) {
    throw new FastvisionError('BACKEND',
      `fastvision: backend '${name}' was asked for but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed; run \`npm install ${packagesOf(spec).join(' ')}\``,
    );
  }
  try {
    const forced = reason === 'forced by the backend option' ? `initBackend({ backend: '${name}' }) makes tfjs train` : `FASTVISION_BACKEND=${name} makes tfjs train`;
    return await start(name, reason, forced);
  } catch (err) {
    throw new FastvisionError('BACKEND', `fastvision: backend '${name}' (${spec.package}) is installed but failed to start: ${message(err)}`, {
      cause: err,
    });
  }
}

async function startBest(): Promise<BackendInfo> {
  const skipped: string[] = [];
  for (const name of backendOrder) {
    const spec = backendSpecs[name];
    const missing = packagesOf(spec).filter((p) => !isInstalled(p));
    if (missing.length) {
      skipped.push(`${missing.join(' and ')} not installed`);
      continue;
    }
    try {
      if (spec.tfjsName === 'webgpu') {
        const adapter = await webgpuAdapter(requireHere);
        if (adapter.software) {
          skipped.push(`webgpu has only a software adapter, ${describeAdapter(adapter)} (force it with FASTVISION_BACKEND=webgpu)`);
          continue;
        }
      }
      const why = skipped.length ? `best that works (${skipped.join('; ')})` : 'best that works';
      return await start(name, why);
    } catch (err) {
      const next = backendOrder.slice(backendOrder.indexOf(name) + 1).find((n) => packagesOf(backendSpecs[n]).every(isInstalled));
      console.warn(`fastvision: ${spec.package} is installed but does not work here (${message(err)}); using ${next ? backendSpecs[next].package : 'nothing'} instead`);
      skipped.push(`${spec.package} failed: ${message(err)}`);
    }
  }
  throw new FastvisionError('BACKEND', `fastvision: no tfjs backend could start (${skipped.join('; ')})`);
}

async function start(name: BackendName, reason: string, forced?: string): Promise<BackendInfo> {
  const spec = backendSpecs[name];
  const before = processEvents.map((e) => process.listeners(e as 'exit'));
  if (spec.tfjsName === 'tensorflow') {
    checkOneTfjsCore(spec.package);
    shimNodeUtil();
  }
  // WebGPU's globals must exist before tfjs-backend-webgpu loads.
  const adapter = spec.tfjsName === 'webgpu' ? await webgpuAdapter(requireHere) : null;
  try {
    await loadPackage(spec);
    if (!(await tf.setBackend(spec.tfjsName))) throw new Error(`tf.setBackend('${spec.tfjsName}') failed: ${factoryError(spec.tfjsName)}`);
    await tf.ready();
  } finally {
    // Emscripten's Node glue (wasm) adds process handlers that rethrow every later
    // uncaught error with its whole 30 kB minified source line; Node's default is better.
    processEvents.forEach((e, i) => {
      for (const l of process.listeners(e as 'exit')) if (!before[i]!.includes(l)) process.removeListener(e, l);
    });
  }
  if (name === 'cpu') silenceCpuBanner(tf.backend());
  checkPrivateFields(spec.tfjsName);
  if (name === 'wasm') registerWasmKernels();
  if (adapter) watchDeviceErrors(tf.backend());
  await selfCheck();
  if (name === 'cpu' && !warnedCpu) {
    console.warn(cpuBackendWarning);
    warnedCpu = true;
  }
  const gpu = adapter ? !adapter.software : usingGpu(name);
  const ort = ortRuntime();
  // ONNX Runtime trains only beside a backend that computes, and reads, in this process's memory.
  const cpuSide = !gpu && spec.tfjsName !== 'webgpu';
  trainingFacts = { forced, ortSelfCheck: ort.ok && cpuSide ? await ortTrainSelfCheck(ort.ort) : undefined };
  if (name === 'gpu' && !gpu) {
    console.warn('fastvision: @tensorflow/tfjs-node-gpu is computing on the CPU: TensorFlow found no usable GPU (it needs CUDA 11.2 and cuDNN 8.1: is libcudnn.so.8 on the library path?)');
  }
  current = {
    name,
    package: spec.package,
    version: packageVersion(spec.package),
    simd: name === 'wasm' ? Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : null,
    threads: await threadCount(name),
    gpu,
    adapter,
    selfCheck: 'passed',
    speedUps: describeSpeedUps(capabilities(spec.tfjsName)),
    reason,
    inference: inferenceInfo(inferenceSide({ name, package: spec.package, gpu })),
    training: trainingInfo({ name, package: spec.package, gpu, ...trainingFacts }),
  };
  return backendInfo();
}

/**
 * Loads a backend's package, which registers its backend with tfjs. tfjs-node also
 * starts its backend while loading and, when that fails, throws a generic "Could not
 * initialize TensorFlow backend": the backend factory's own error is the useful one.
 */
async function loadPackage(spec: BackendSpec): Promise<void> {
  try {
    // tfjs-node is CommonJS; loading it through require keeps one resolution path for every package.
    requireHere(spec.package);
  } catch (err) {
    const why = tf.findBackendFactory(spec.tfjsName) ? factoryError(spec.tfjsName) : undefined;
    throw new Error(why ? `its backend does not start: ${why}` : `loading it failed: ${message(err)}`, { cause: err });
  }
  if (tf.findBackendFactory(spec.tfjsName) == null) throw new Error(`it did not register a '${spec.tfjsName}' backend with tfjs`);
}

/** The error a backend factory throws (tfjs only logs it and reports `false`). */
function factoryError(tfjsName: string): string {
  try {
    const backend = tf.findBackendFactory(tfjsName)?.();
    if (backend instanceof Promise) return 'its factory is asynchronous and did not settle';
    (backend as tf.KernelBackend | undefined)?.dispose?.();
    return 'its factory returned a backend, but tfjs could not make it current';
  } catch (err) {
    return message(err);
  }
}

/**
 * tfjs keeps its engine and kernel registry on `globalThis`, so a native package that
 * brings its own copy of @tensorflow/tfjs-core still registers, and then half-works:
 * tensors of one copy fail the other's checks. Compare the copy the native package
 * resolves from its own folder (through its `@tensorflow/tfjs`) with fastvision's.
 */
function checkOneTfjsCore(pkg: string): void {
  const ours = corePackage(requireHere);
  let theirs: { dir: string; version: string } | undefined;
  try {
    const fromNative = createRequire(requireHere.resolve(`${pkg}/package.json`));
    theirs = corePackage(createRequire(fromNative.resolve('@tensorflow/tfjs/package.json')));
  } catch {
    return; // the package is broken in another way; loading it will say how
  }
  if (theirs.dir !== ours.dir) {
    throw new Error(
      `${pkg} uses its own @tensorflow/tfjs-core ${theirs.version} (${theirs.dir}) beside fastvision's ${ours.version} (${ours.dir}); ` +
        `two copies do not work together. Install a ${pkg} whose @tensorflow/tfjs matches fastvision's ${ours.version} (e.g. \`npm install ${pkg}@${ours.version}\`), ` +
        'then `npm dedupe`: `npm ls @tensorflow/tfjs-core` must show one version',
    );
  }
}

function corePackage(req: NodeJS.Require): { dir: string; version: string } {
  const file = req.resolve('@tensorflow/tfjs-core/package.json');
  return { dir: realpathSync(dirname(file)), version: (req(file) as { version: string }).version };
}

/**
 * tfjs-node 4.22 (the last release) calls `util.isNullOrUndefined` (and, for some
 * ops, `util.isArray`), which Node 23 removed (tfjs issue 8609; fixed upstream, not
 * released): every convolution would throw. fastvision puts them back, as Node
 * defined them, before loading the package.
 */
export function shimNodeUtil(): void {
  const u = util as { isNullOrUndefined?: (v: unknown) => boolean; isArray?: (v: unknown) => boolean };
  if (typeof u.isNullOrUndefined !== 'function') u.isNullOrUndefined = (v) => v === null || v === undefined;
  if (typeof u.isArray !== 'function') u.isArray = Array.isArray;
}

/** Whether the backend computes on a GPU, as it says itself. */
function usingGpu(name: BackendName): boolean {
  return backendSpecs[name].tfjsName === 'tensorflow' && nativeUsesGpu(tf.backend());
}

async function threadCount(name: BackendName): Promise<number> {
  if (name === 'cpu') return 1;
  if (name === 'wasm') {
    const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { getThreadsCount?: () => number };
    return wasm.getThreadsCount?.() ?? 1;
  }
  return os.availableParallelism();
}

/** What the inference choice sees: webgpu infers on itself, even on a software adapter (that is what forcing it asks for). */
function inferenceSide(b: { name: BackendName; package: string; gpu: boolean }): { package: string; gpu: boolean } {
  return { package: b.package, gpu: b.gpu || b.name === 'webgpu' };
}

/** Every package a backend needs: its own and those it requires. */
function packagesOf(spec: BackendSpec): string[] {
  return [spec.package, ...(spec.requires ?? [])];
}

function isInstalled(pkg: string): boolean {
  try {
    requireHere.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function packageVersion(pkg: string): string {
  try {
    return (requireHere(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
