import type * as Ort from 'onnxruntime-node';
import * as tf from '../../core/tf.js';
import { compileTrainStep, convertLayout, createTrainSession, initialTrainState, trainStepOrt } from '../onnx/training/index.js';

/** How close (norm-relative, per tensor) the compiled step's gradients must be to tfjs's. */
const tolerance = 1e-3;

/**
 * Before ONNX Runtime trains, one tiny step (conv, BatchNorm, ReLU, max pool, global
 * pooling, dense; batch 2 at 8 px) is compiled and run, and every gradient is compared
 * with tfjs's on the running backend. Returns `'passed'`, or what went wrong.
 */
export async function ortTrainSelfCheck(ort: typeof Ort): Promise<string> {
  const before = tf.memory().numTensors;
  // Seeded initialisers: the check must not move the random stream a user's own nets are drawn from.
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  let session: Ort.InferenceSession | undefined;
  try {
    const step = compileTrainStep(model, { batch: 2, height: 8, width: 8, loss: 'crossEntropy', optimizer: 'sgd', trainable: () => true, outputGradients: true });
    session = await createTrainSession(ort, step, 1);
    const images = Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.sin(i * 0.37));
    const labels = [0, 2];
    const result = await trainStepOrt(ort, session, step, initialTrainState(ort, model, step), { images, labels }, { groups: [{ lr: 0, mom: 0, wd: 0 }] });
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), model.apply(tf.tensor4d(images, [2, 8, 8, 3]), { training: true }) as tf.Tensor) as tf.Scalar), model.trainableWeights.map((w) => w.read() as tf.Variable));
    try {
      for (const entry of step.state.filter((e) => e.gradient)) {
        const v = model.getLayer(entry.layer).weights[entry.index]!;
        const ref = grads[(v.read() as tf.Variable).name]?.dataSync();
        if (!ref) return `no tfjs gradient for ${entry.key}`;
        const ours = convertLayout(entry, result.grads[entry.key]!.data as Float32Array, false);
        const err = normRelative(ours, ref);
        if (!(err <= tolerance)) return `the gradient of ${entry.key} differs from tfjs's by ${err.toExponential(2)} (norm-relative; tolerance ${tolerance})`;
      }
    } finally {
      tf.dispose([value, ...Object.values(grads)]);
    }
    return 'passed';
  } catch (err) {
    return `failed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await session?.release();
    model.dispose();
    const leaked = tf.memory().numTensors - before;
    if (leaked > 0) console.warn(`fastvision: the ONNX training self-check left ${leaked} tfjs tensors`);
  }
}

/** ‖a − b‖ / ‖b‖: how two float32 engines' tensors are compared (rounding differs elementwise; BatchNorm amplifies it). */
export function normRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}
