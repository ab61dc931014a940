import { activation, relu } from './activation.js';
import { batchNormalization } from './batchNorm.js';
import { conv } from './conv.js';
import type { Converter } from './converter.js';
import { dense } from './dense.js';
import { flatten } from './flatten.js';
import { add, concatenate } from './merge.js';
import { zeroPadding } from './padding.js';
import { globalPool, pool } from './pooling.js';
import { rescaling } from './rescaling.js';

/** Inference needs no dropout: its output is its input. */
const identity: Converter = (_layer, [x]) => x!;

/** Every layer class the exporter writes, by tfjs class name. */
export const converters: Record<string, Converter> = {
  Conv2D: conv,
  DepthwiseConv2D: conv,
  BatchNormalization: batchNormalization,
  ReLU: relu,
  Activation: activation,
  Add: add,
  Concatenate: concatenate,
  ZeroPadding2D: zeroPadding,
  MaxPooling2D: pool,
  AveragePooling2D: pool,
  GlobalAveragePooling2D: globalPool,
  GlobalMaxPooling2D: globalPool,
  Flatten: flatten,
  Dense: dense,
  Dropout: identity,
  Rescaling: rescaling,
};

/** The classes for error messages, InputLayer included. */
export const supportedClasses: readonly string[] = ['InputLayer', ...Object.keys(converters)];
