import * as tf from '../../core/tf.js';

/**
 * Building blocks that reproduce PyTorch's layers exactly, so converted torchvision
 * weights give the same numbers: symmetric explicit zero padding then a 'valid'
 * convolution (tfjs 'same' pads asymmetrically on stride 2), BatchNorm with
 * PyTorch's eps and momentum.
 */
export type Sym = tf.SymbolicTensor;

export interface ConvOpts {
  filters: number;
  kernel: number;
  stride?: number;
  /** PyTorch's `padding`: zeros added on every side. */
  pad?: number;
  name: string;
}

export function pad(x: Sym, p: number, name: string): Sym {
  return p === 0 ? x : (tf.layers.zeroPadding2d({ padding: p, name }).apply(x) as Sym);
}

/** torchvision's conv init: Kaiming normal, fan-out, for ReLU (what `pretrained: false` starts from). */
const kaimingFanOut = () => tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal' });

export function conv(x: Sym, { filters, kernel, stride = 1, pad: p = 0, name }: ConvOpts): Sym {
  const padded = pad(x, p, `${name}_pad`);
  return tf.layers
    .conv2d({ filters, kernelSize: kernel, strides: stride, padding: 'valid', useBias: false, kernelInitializer: kaimingFanOut(), name })
    .apply(padded) as Sym;
}

export function depthwiseConv(x: Sym, { kernel, stride = 1, pad: p = 0, name }: Omit<ConvOpts, 'filters'>): Sym {
  const padded = pad(x, p, `${name}_pad`);
  return tf.layers
    .depthwiseConv2d({ kernelSize: kernel, strides: stride, padding: 'valid', useBias: false, depthwiseInitializer: kaimingFanOut(), name })
    .apply(padded) as Sym;
}

/** PyTorch BatchNorm2d defaults: eps 1e-5, momentum 0.1 (Keras counts it the other way: 0.9). */
export function batchNorm(x: Sym, name: string): Sym {
  return tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9, name }).apply(x) as Sym;
}

export function relu(x: Sym, name: string): Sym {
  return tf.layers.reLU({ name }).apply(x) as Sym;
}

export function relu6(x: Sym, name: string): Sym {
  return tf.layers.reLU({ maxValue: 6, name }).apply(x) as Sym;
}

export function add(a: Sym, b: Sym, name: string): Sym {
  return tf.layers.add({ name }).apply([a, b]) as Sym;
}

/** Global average pool then a dense classifier, as torchvision's `avgpool` + `fc`. */
export function classifier(x: Sym, classes: number, name: string): Sym {
  const pooled = tf.layers.globalAveragePooling2d({ name: `${name}_pool` }).apply(x) as Sym;
  return tf.layers.dense({ units: classes, name }).apply(pooled) as Sym;
}

/** Any image size, so the same weights serve 224 px and then 320 px (progressive resizing). */
export function imageInput(): Sym {
  return tf.input({ shape: [null, null, 3], name: 'image' });
}
