import { Conv2DBackpropInput, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs';
import { withScope } from './kernelScope.js';
import { cropNegativePadding, explicitPadding, forwardConvInfo, inputGradPadding, zeroInsert } from './geometry.js';

/**
 * dx of a 2-D convolution as one XNNPACK forward convolution: the stride-dilated `dy`
 * convolved (stride 1) with the filter rotated 180° and its in/out channels swapped.
 * The stock wasm kernel is a plain scalar loop.
 */
const conv2dBackpropInput: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: [number, number];
    pad: 'same';
    dataFormat: string;
    dimRoundingMode?: 'floor';
    inputShape: [number, number, number, number];
  };
  const info = forwardConvInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode, false, dataFormat);
  return withScope(backend, 'wasm', (s) => {
    const dyd = zeroInsert(s, dy, info.strideHeight, info.strideWidth);
    const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
    const rotated = s.transpose(flipped, [0, 1, 3, 2]);
    const p = inputGradPadding(info);
    const dx = s.run(
      'Conv2D',
      { x: dyd, filter: rotated },
      { strides: [1, 1], dilations: [1, 1], pad: explicitPadding(p), dataFormat: 'NHWC' },
    );
    return cropNegativePadding(s, dx, p);
  });
};

export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput,
};
