/**
 * Inference on ONNX Runtime: the model compiled to one ONNX graph (BatchNorm folded),
 * run by ORT's multi-threaded CPU kernels — ~10× tfjs-wasm for a ResNet on this kind of
 * machine. The session is kept per model and rebuilt only when a weight has changed
 * (after a training epoch), so a validation pass pays for it once.
 */
import type * as Ort from 'onnxruntime-node';
import * as tf from '../../core/tf.js';
import { toOnnx } from '../onnx/index.js';
import { inferenceThreads, ortMemoryOptions } from './ortRuntime.js';

interface CachedSession {
  /** The weights' data ids when the session was built: a training step assigns new ones. */
  version: readonly object[];
  threads: number;
  session: Promise<Ort.InferenceSession>;
}

const sessions = new WeakMap<tf.LayersModel, CachedSession>();

/** Sessions built, seconds spent building them (graph export + ORT's optimisation) and batches run: for benchmarks and tests. */
export const sessionStats = { builds: 0, seconds: 0, runs: 0 };

const versionOf = (model: tf.LayersModel): object[] => model.weights.map((w) => (w.read() as unknown as { dataId: object }).dataId);

/** ONNX bytes to build `model`'s first session from (an export's model.onnx), instead of converting it. */
const seeds = new WeakMap<tf.LayersModel, { version: readonly object[]; bytes: Uint8Array }>();

/** Uses `bytes` (the model as ONNX, e.g. an export's model.onnx) for `model`'s current weights. */
export function seedSession(model: tf.LayersModel, bytes: Uint8Array): void {
  seeds.set(model, { version: versionOf(model), bytes });
}

const sameVersion = (a: readonly object[], b: readonly object[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The model's ORT session for its current weights, built (and the stale one released) when they changed. */
async function sessionFor(ort: typeof Ort, model: tf.LayersModel): Promise<Ort.InferenceSession> {
  const version = versionOf(model);
  const threads = inferenceThreads();
  const cached = sessions.get(model);
  if (cached && cached.threads === threads && sameVersion(cached.version, version)) return cached.session;
  if (cached) void cached.session.then((s) => s.release()).catch(() => undefined);
  const seed = seeds.get(model);
  // A seed serves its weights version once; it is not kept (an export's model.onnx is as large as its weights).
  seeds.delete(model);
  const started = performance.now();
  const bytes = seed && sameVersion(seed.version, version) ? Promise.resolve(seed.bytes) : toOnnx(model);
  const session = bytes.then((b) =>
    ort.InferenceSession.create(b, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      ...ortMemoryOptions,
    }),
  );
  sessions.set(model, { version, threads, session });
  session.then(() => {
    sessionStats.builds++;
    sessionStats.seconds += (performance.now() - started) / 1000;
  }, () => sessions.delete(model));
  return session;
}

/**
 * Runs `model` on ONNX Runtime: same inputs and outputs as `model.predict` (NHWC in,
 * the model's output shape out), as a tfjs tensor the caller disposes.
 */
export async function ortPredict(ort: typeof Ort, model: tf.LayersModel, x: tf.Tensor4D): Promise<tf.Tensor> {
  const session = await sessionFor(ort, model);
  const input = new ort.Tensor('float32', (await x.data()) as Float32Array, x.shape);
  const outputs = await session.run({ [session.inputNames[0]!]: input });
  sessionStats.runs++;
  const out = outputs[session.outputNames[0]!]!;
  try {
    return tf.tensor(out.data as Float32Array, out.dims as number[], 'float32');
  } finally {
    input.dispose?.();
    out.dispose?.();
  }
}

/** Forgets `model`'s session (its memory goes with ORT's next collection). */
export function releaseSession(model: tf.LayersModel): void {
  const cached = sessions.get(model);
  sessions.delete(model);
  if (cached) void cached.session.then((s) => s.release()).catch(() => undefined);
}
