import {
  DepthwiseConv2dNativeBackpropInput,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '../../../core/tf.js';
import { withScope } from './kernelScope.js';
import { cropNegativePadding, dims4, explicitPadding, forwardConvInfo, inputGradPadding, zeroInsert } from './geometry.js';

/**
 * dx of a depthwise convolution as one XNNPACK depthwise convolution of the
 * stride-dilated `dy` with the 180°-rotated filter. With a channel multiplier M, each
 * of the C·M output channels is convolved on its own and the M results per input
 * channel are summed.
 */
const depthwiseBackpropInput: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: [number, number];
    dilations: [number, number];
    pad: 'same';
    dimRoundingMode?: 'floor';
    inputShape: [number, number, number, number];
  };
  const info = forwardConvInfo(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode, true, undefined);
  const [kh, kw, c, m] = dims4(filter.shape);
  return withScope(backend, 'wasm', (s) => {
    const dyd = zeroInsert(s, dy, info.strideHeight, info.strideWidth);
    const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
    const perChannel = s.reshape(flipped, [kh, kw, c * m, 1]);
    const p = inputGradPadding(info);
    let dx = s.run(
      'DepthwiseConv2dNative',
      { x: dyd, filter: perChannel },
      { strides: [1, 1], dilations: [info.dilationHeight, info.dilationWidth], pad: explicitPadding(p) },
    );
    dx = cropNegativePadding(s, dx, p);
    if (m === 1) return dx;
    const [n, h, w] = dims4(dx.shape);
    const split = s.reshape(dx, [n, h, w, c, m]);
    return s.run('Sum', { x: split }, { axis: [4], keepDims: false });
  });
};

export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput,
};
