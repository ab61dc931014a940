/**
 * The attribute rules TensorFlow 2.9 (libtensorflow under tfjs-node 4.22) applies to
 * the convolution and pooling ops tfjs-node sends it, from the op definitions
 * (`conv_ops.cc`, `nn_ops.cc`) and `CheckValidPadding` (`util/padding.cc`). The
 * emulated binding refuses what TensorFlow would, with TensorFlow's words.
 */

/** One attribute as tfjs-node passes it to the binding (`TFEOpAttr`). */
export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** Padding kinds each op's definition allows. */
const allowedPadding: Record<string, readonly string[]> = {
  Conv2D: ['SAME', 'VALID', 'EXPLICIT'],
  Conv2DBackpropInput: ['SAME', 'VALID', 'EXPLICIT'],
  Conv2DBackpropFilter: ['SAME', 'VALID', 'EXPLICIT'],
  DepthwiseConv2dNative: ['SAME', 'VALID', 'EXPLICIT'],
  DepthwiseConv2dNativeBackpropInput: ['SAME', 'VALID', 'EXPLICIT'],
  DepthwiseConv2dNativeBackpropFilter: ['SAME', 'VALID', 'EXPLICIT'],
  MaxPool: ['SAME', 'VALID'],
  MaxPoolGrad: ['SAME', 'VALID'],
  AvgPool: ['SAME', 'VALID'],
  AvgPoolGrad: ['SAME', 'VALID'],
};

/** The ops these rules cover: the ones whose attributes fastvision's speed-ups shape. */
export const checkedOps = Object.keys(allowedPadding);

/** Attributes by name. */
export function attrMap(attrs: readonly OpAttr[]): Record<string, unknown> {
  return Object.fromEntries(attrs.map((a) => [a.name, a.value]));
}

/**
 * The error TensorFlow would raise for `op` with these attributes, or undefined.
 * Checks the padding kind against the op definition, `CheckValidPadding`
 * (explicit_paddings present with 8 values exactly when padding is EXPLICIT, none
 * negative, none on the batch or channel dimensions), the data format, and that
 * strides, dilations and pooling windows have 4 entries with 1 for batch and channels.
 */
export function tfRefusal(op: string, attrs: Record<string, unknown>): string | undefined {
  const padding = attrs['padding'];
  const allowed = allowedPadding[op];
  if (!allowed) return undefined;
  if (typeof padding !== 'string' || !allowed.includes(padding)) {
    return `Value for attr 'padding' of ${String(padding)} is not in the list of allowed values: ${allowed.map((p) => `"${p}"`).join(', ')}`;
  }
  const format = attrs['data_format'] ?? 'NHWC';
  if (format !== 'NHWC' && format !== 'NCHW') return `Value for attr 'data_format' of ${String(format)} is not in the list of allowed values: "NHWC", "NCHW"`;
  const explicit = (attrs['explicit_paddings'] as number[] | undefined) ?? [];
  if (padding === 'EXPLICIT') {
    if (explicit.length !== 8) return `explicit_paddings attribute must contain 8 values, but got: ${explicit.length}`;
    if (explicit.some((p) => p < 0)) return `All explicit padding values must be nonnegative, but got: [${explicit.join(', ')}]`;
    const [n0, n1, , , , , c0, c1] = format === 'NHWC' ? explicit : [explicit[0], explicit[1], 0, 0, 0, 0, explicit[2], explicit[3]];
    if (n0 || n1 || c0 || c1) return 'Nonzero explicit padding in the batch or depth dimensions is not supported';
  } else if (explicit.length) {
    return 'explicit_paddings attribute must be empty if the padding attribute is not EXPLICIT';
  }
  for (const name of ['strides', 'dilations', 'ksize']) {
    const v = attrs[name] as number[] | undefined;
    if (v === undefined) continue;
    if (v.length !== 4) return `Sliding window ${name} field must specify 4 dimensions`;
    const [n, , , c] = format === 'NHWC' ? v : [v[0], 0, 0, v[1]];
    if (n !== 1 || c !== 1) return `Current implementation does not yet support ${name} in the batch and depth dimensions.`;
  }
  return undefined;
}
