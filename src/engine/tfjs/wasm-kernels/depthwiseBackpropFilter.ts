import {
  DepthwiseConv2dNativeBackpropFilter,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '../../../core/tf.js';
import { wasmHeapF32, wasmOutput } from '../hostCompute.js';
import { dims4, forwardConvInfo } from './geometry.js';

/** Where a depthwise convolution's filter taps read its input. */
export interface DepthwiseGeometry {
  n: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  kh: number;
  kw: number;
  channels: number;
  multiplier: number;
  strides: [number, number];
  dilations: [number, number];
  top: number;
  left: number;
}

/**
 * dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, oh·s+kh·d−pt, ow·s+kw·d−pl, c] · dy[n,oh,ow,c·M+m],
 * as one pass over `dy` with the taps' sums in float64. The work is N·OH·OW·K²·C
 * multiply-adds, small next to a convolution's, but tfjs's composite (a strided
 * window slice and a full-size product per tap) spent most of a MobileNetV2 step
 * moving memory.
 */
export function depthwiseFilterGrad(x: Float32Array, dy: Float32Array, g: DepthwiseGeometry, dw: Float32Array): void {
  const { n, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, kh: KH, kw: KW, channels: C, multiplier: M } = g;
  const [sh, sw] = g.strides;
  const [dh, dwl] = g.dilations;
  const CM = C * M;
  const acc = new Float64Array(KH * KW * CM);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const dyBase = ((b * OH + oy) * OW + ox) * CM;
        for (let i = 0; i < KH; i++) {
          const iy = oy * sh + i * dh - g.top;
          if (iy < 0 || iy >= H) continue;
          for (let j = 0; j < KW; j++) {
            const ix = ox * sw + j * dwl - g.left;
            if (ix < 0 || ix >= W) continue;
            const xBase = ((b * H + iy) * W + ix) * C;
            const aBase = (i * KW + j) * CM;
            if (M === 1) {
              for (let c = 0; c < C; c++) acc[aBase + c]! += x[xBase + c]! * dy[dyBase + c]!;
            } else {
              for (let c = 0; c < C; c++) {
                const xv = x[xBase + c]!;
                for (let q = 0; q < M; q++) acc[aBase + c * M + q]! += xv * dy[dyBase + c * M + q]!;
              }
            }
          }
        }
      }
  dw.set(acc);
}

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
  const [kh, kw, channels, multiplier] = filterShape;
  const geometry: DepthwiseGeometry = {
    n: dims4(x.shape)[0],
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    kh,
    kw,
    channels,
    multiplier,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
  const out = wasmOutput(backend, [kh, kw, channels, multiplier]);
  depthwiseFilterGrad(wasmHeapF32(backend, x), wasmHeapF32(backend, dy), geometry, wasmHeapF32(backend, out));
  return out;
};

export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter,
};
