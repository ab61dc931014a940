import { Conv2DBackpropFilter, type KernelConfig, type KernelFunc, type TensorInfo } from '../../../core/tf.js';
import { withScope } from './kernelScope.js';
import { forwardConvInfo } from './geometry.js';

/**
 * dW of a 2-D convolution as one XNNPACK forward convolution: with batch and channels
 * swapped, `x` is convolved with `dy` as the filter, the forward stride becoming the
 * dilation. dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh−pt, ow·s+kw−pl, ci] · dy[n,oh,ow,co].
 */
const conv2dBackpropFilter: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number];
    pad: 'same';
    dataFormat: string;
    dimRoundingMode?: 'floor';
    filterShape: [number, number, number, number];
  };
  const info = forwardConvInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, dataFormat);
  const [kh, kw, ci, co] = filterShape;
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Rows the forward conv read: from −top to (kh−1)+(oh−1)·sh−top. Rows it skipped at
  // the far end (a 'valid' conv whose stride does not divide) only add outputs we crop.
  const bottom = Math.max(0, kh + (oh - 1) * sh - info.inHeight - top);
  const right = Math.max(0, kw + (ow - 1) * sw - info.inWidth - left);
  return withScope(backend, 'wasm', (s) => {
    const xt = s.transpose(x, [3, 1, 2, 0]); // [ci, H, W, N]
    const dyt = s.transpose(dy, [1, 2, 0, 3]); // [OH, OW, N, co]
    let g = s.run(
      'Conv2D',
      { x: xt, filter: dyt },
      {
        strides: [1, 1],
        dilations: [sh, sw],
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      },
    ); // [ci, ≥kh, ≥kw, co]
    if (g.shape[1] !== kh || g.shape[2] !== kw) {
      g = s.run('Slice', { x: g }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
    }
    return s.transpose(g, [1, 2, 0, 3]);
  });
};

export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter,
};
