import {
  DepthwiseConv2dNativeBackpropFilter,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs';
import { type KernelScope, withScope } from './kernelScope.js';
import { dims4, forwardConvInfo } from './geometry.js';

/**
 * dW of a depthwise convolution, one filter tap at a time: the (strided) window of
 * the padded input that tap saw, times `dy`, summed over batch and space.
 * dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, oh·s+kh·d−pt, ow·s+kw·d−pl, c] · dy[n,oh,ow,c·M+m].
 */
const depthwiseBackpropFilter: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number];
    dilations: [number, number];
    pad: 'same';
    dimRoundingMode?: 'floor';
    filterShape: [number, number, number, number];
  };
  const info = forwardConvInfo(x.shape, filterShape, strides, dilations, pad, dimRoundingMode, true, undefined);
  const [kh, kw, c, m] = filterShape;
  const [n] = dims4(x.shape);
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { outHeight: oh, outWidth: ow } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const bottom = Math.max(0, (kh - 1) * dh + (oh - 1) * sh + 1 - info.inHeight - top);
  const right = Math.max(0, (kw - 1) * dw + (ow - 1) * sw + 1 - info.inWidth - left);
  return withScope(backend, 'wasm', (s) => {
    const xp =
      top + bottom + left + right === 0
        ? x
        : s.run(
            'PadV2',
            { x },
            {
              paddings: [
                [0, 0],
                [top, bottom],
                [left, right],
                [0, 0],
              ],
              constantValue: 0,
            },
          );
    const dyTaps = m === 1 ? dy : s.reshape(dy, [n, oh, ow, c, m]);
    const taps: TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const window = tapWindow(s, xp, i * dh, j * dw, oh, ow, sh, sw);
        const lhs = m === 1 ? window : s.reshape(window, [n, oh, ow, c, 1]);
        const prod = s.run('Multiply', { a: lhs, b: dyTaps });
        const sum = s.run('Sum', { x: prod }, { axis: [0, 1, 2], keepDims: false }); // [c] or [c, m]
        taps.push(s.reshape(sum, [1, c * m]));
      }
    }
    const stacked = taps.length === 1 ? taps[0]! : s.run('Concat', taps as unknown as Record<string, TensorInfo>, { axis: 0 });
    return s.reshape(stacked, [kh, kw, c, m]);
  });
};

/** The part of the padded input that one filter tap multiplied, [N, OH, OW, C]. */
function tapWindow(
  s: KernelScope,
  xp: TensorInfo,
  row: number,
  col: number,
  oh: number,
  ow: number,
  sh: number,
  sw: number,
): TensorInfo {
  const [n, , , c] = dims4(xp.shape);
  if (sh === 1 && sw === 1) {
    return s.run('Slice', { x: xp }, { begin: [0, row, col, 0], size: [n, oh, ow, c] });
  }
  return s.run(
    'StridedSlice',
    { x: xp },
    {
      begin: [0, row, col, 0],
      end: [n, row + (oh - 1) * sh + 1, col + (ow - 1) * sw + 1, c],
      strides: [1, sh, sw, 1],
      beginMask: 0,
      endMask: 0,
      ellipsisMask: 0,
      newAxisMask: 0,
      shrinkAxisMask: 0,
    },
  );
}

export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter,
};
