import { backend_util, type TensorInfo } from '../../../core/tf.js';
import type { KernelScope } from './kernelScope.js';

/** A rank-4 shape as a tuple (NHWC tensors, HWIO filters). */
export function dims4(shape: readonly number[]): [number, number, number, number] {
  if (shape.length !== 4) throw new Error(`fastvision internal: expected a rank-4 shape, got [${shape.join(', ')}]`);
  return shape as [number, number, number, number];
}

type Pad = backend_util.PadInfo | 'valid' | 'same' | number | backend_util.ExplicitPadding;

/** The forward convolution's geometry, recomputed from a gradient kernel's attributes. */
export function forwardConvInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Pad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
  dataFormat: string | undefined,
): backend_util.Conv2DInfo {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`fastvision internal: the wasm backend supports only NHWC convolutions, got dataFormat '${dataFormat}'`);
  }
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad as 'same',
    dimRoundingMode,
    depthwise,
  );
}

/**
 * Padding for a stride-1 convolution that may be negative on either side.
 * XNNPACK takes only non-negative padding; a negative pad of p rows on one side of a
 * stride-1 convolution is the same as cropping p rows from that side of its output.
 */
export interface SignedPad {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export function explicitPadding(p: SignedPad): backend_util.ExplicitPadding {
  return [
    [0, 0],
    [Math.max(0, p.top), Math.max(0, p.bottom)],
    [Math.max(0, p.left), Math.max(0, p.right)],
    [0, 0],
  ];
}

/** Crops the output of a stride-1 convolution run with `explicitPadding(p)`. */
export function cropNegativePadding(s: KernelScope, y: TensorInfo, p: SignedPad): TensorInfo {
  const [n, h, w, c] = dims4(y.shape);
  const top = Math.max(0, -p.top);
  const bottom = Math.max(0, -p.bottom);
  const left = Math.max(0, -p.left);
  const right = Math.max(0, -p.right);
  if (top + bottom + left + right === 0) return y;
  return s.run('Slice', { x: y }, { begin: [0, top, left, 0], size: [n, h - top - bottom, w - left - right, c] });
}

/**
 * Inserts `stride - 1` zeros after every row and column of `dy` (NHWC), giving a
 * tensor of OH·sh × OW·sw. The zeros after the last row and column are part of the
 * result; callers account for them as padding.
 */
export function zeroInsert(s: KernelScope, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [n, oh, ow, c] = dims4(dy.shape);
  const six = s.reshape(dy, [n, oh, 1, ow, 1, c]);
  const padded = s.run(
    'PadV2',
    { x: six },
    {
      paddings: [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
  return s.reshape(padded, [n, oh * sh, ow * sw, c]);
}

/**
 * Padding for the input gradient computed as a stride-1 convolution of the
 * zero-inserted `dy` (length OH·s, of which the last s−1 are zeros) with the
 * 180°-rotated filter.
 */
export function inputGradPadding(info: backend_util.Conv2DInfo): SignedPad {
  const kh = info.effectiveFilterHeight;
  const kw = info.effectiveFilterWidth;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  // Output length = OH·s + top + bottom − kh + 1 must equal the input height.
  const bottom = info.inHeight - info.outHeight * sh - top + kh - 1;
  const right = info.inWidth - info.outWidth * sw - left + kw - 1;
  return { top, bottom, left, right };
}
