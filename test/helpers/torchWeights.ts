import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { pretrainedConfigs, serializeSafetensors, weightsLocation, type ArchName } from '../../src/index.js';
import { torchParam } from '../../src/vision/torchWeights.js';

/** tfjs layout → PyTorch layout: the inverse of what loadStateDict converts. */
function toTorch(className: string, param: string, t: tf.Tensor): tf.Tensor {
  if (param === 'kernel' && className === 'Conv2D') return tf.transpose(t, [3, 2, 0, 1]); // HWIO → OIHW
  if (param === 'depthwise_kernel') return tf.transpose(t, [2, 3, 0, 1]); // H,W,C,1 → C,1,H,W
  if (param === 'kernel' && className === 'Dense') return tf.transpose(t, [1, 0]);
  return t;
}

/**
 * Writes a randomly initialised `arch` as the model hub's safetensors file into the
 * weights cache (`env.cacheDir`), so `visionLearner(dls, arch)` runs offline exactly
 * as it does with real ImageNet weights — minus what they know. Returns the file.
 */
export function cacheRandomWeights(arch: ArchName): string {
  const config = pretrainedConfigs[arch];
  if (config.keyMap) throw new Error(`cacheRandomWeights: ${arch} names its tensors its own way; only torchvision-named archs are supported`);
  const model = config.build();
  const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      const param = w.originalName.split('/').pop()!;
      const v = w.read();
      const t = toTorch(layer.getClassName(), param, v);
      tensors[`${layer.name.replaceAll('_', '.')}.${torchParam[param]}`] = { shape: t.shape, values: t.dataSync().slice() as Float32Array };
      if (t !== v) t.dispose(); // a transposed copy; the variable itself belongs to the model
    }
  }
  model.dispose();
  const { file } = weightsLocation(arch);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, serializeSafetensors(tensors));
  return file;
}
