import { Conv2DBackpropInput, type KernelConfig, type KernelFunc, type TensorInfo } from '../../../core/tf.js';
import { withScope } from './kernelScope.js';
import { cropNegativePadding, dims4, explicitPadding, forwardConvInfo, inputGradPadding } from './geometry.js';

/**
 * dx of a 2-D convolution as one XNNPACK forward convolution over `dy`.
 *
 * Stride 1: `dy` convolved with the filter rotated 180° and its in/out channels
 * swapped. Stride s > 1: each of the s² phases of dx (rows ≡ r mod s, columns ≡ q mod
 * s) is a stride-1 convolution of `dy` with the taps of the filter in that phase; the
 * phases' filters are stacked on the output channels of one convolution and its
 * output interleaved into dx. That does the multiply-adds dx needs, where convolving a
 * zero-inserted `dy` did s² times as many, most of them with zeros. The filters are
 * rearranged by JS loops over the wasm heap (the backend's Reverse and Transpose cost
 * more than the small filters are worth).
 */

/** `w[kh,kw,ci,co]` → the stacked phase filters `[mh, mw, co, sh·sw·ci]`, mh = ⌈kh/sh⌉, taps reversed. */
export function phaseFilters(w: Float32Array, shape: readonly number[], sh: number, sw: number, out: Float32Array): void {
  const [kh, kw, ci, co] = dims4(shape);
  const mh = Math.ceil(kh / sh);
  const mw = Math.ceil(kw / sw);
  const phases = sh * sw * ci;
  for (let uh = 0; uh < mh; uh++)
    for (let uw = 0; uw < mw; uw++)
      for (let rh = 0; rh < sh; rh++)
        for (let rw = 0; rw < sw; rw++) {
          const th = rh + (mh - 1 - uh) * sh;
          const tw = rw + (mw - 1 - uw) * sw;
          const tap = th < kh && tw < kw;
          for (let o = 0; o < co; o++) {
            const dst = ((uh * mw + uw) * co + o) * phases + (rh * sw + rw) * ci;
            for (let c = 0; c < ci; c++) out[dst + c] = tap ? w[((th * kw + tw) * ci + c) * co + o]! : 0;
          }
        }
}

/** dx[b,i,j,c] = z[b, ⌊(i+pt)/sh⌋, ⌊(j+pl)/sw⌋, ((i+pt) mod sh · sw + (j+pl) mod sw)·ci + c]. */
export function interleavePhases(z: Float32Array, zShape: number[], dx: Float32Array, dxShape: number[], sh: number, sw: number, pt: number, pl: number): void {
  const [, zh, zw, zc] = zShape as [number, number, number, number];
  const [n, h, w, ci] = dxShape as [number, number, number, number];
  let d = 0;
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++) {
      const qh = Math.floor((i + pt) / sh);
      const rh = (i + pt) % sh;
      for (let j = 0; j < w; j++) {
        const qw = Math.floor((j + pl) / sw);
        const src = ((b * zh + qh) * zw + qw) * zc + (rh * sw + ((j + pl) % sw)) * ci;
        for (let c = 0; c < ci; c++) dx[d++] = z[src + c]!;
      }
    }
}

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
  const { strideHeight: sh, strideWidth: sw } = info;
  const [kh, kw, ci, co] = dims4(filter.shape);
  return withScope(backend, 'wasm', (s) => {
    const mh = Math.ceil(kh / sh);
    const mw = Math.ceil(kw / sw);
    const f = s.output([mh, mw, co, sh * sw * ci]);
    phaseFilters(s.f32(filter), filter.shape, sh, sw, s.f32(f));
    if (sh === 1 && sw === 1) {
      const p = inputGradPadding(info);
      const dx = s.run('Conv2D', { x: dy, filter: f }, { strides: [1, 1], dilations: [1, 1], pad: explicitPadding(p), dataFormat: 'NHWC' });
      return cropNegativePadding(s, dx, p);
    }
    const { top: pt, left: pl } = info.padInfo;
    // A full correlation: z has rows q = 0 … OH+mh−2 (+ bottom), and dx needs q up to ⌊(pt+H−1)/sh⌋.
    const bottom = Math.max(0, Math.floor((pt + info.inHeight - 1) / sh) + 1 - (info.outHeight + mh - 1));
    const right = Math.max(0, Math.floor((pl + info.inWidth - 1) / sw) + 1 - (info.outWidth + mw - 1));
    const z = s.run(
      'Conv2D',
      { x: dy, filter: f },
      { strides: [1, 1], dilations: [1, 1], pad: [[0, 0], [mh - 1, mh - 1 + bottom], [mw - 1, mw - 1 + right], [0, 0]], dataFormat: 'NHWC' },
    );
    const dx = s.output([...inputShape]);
    interleavePhases(s.f32(z), z.shape, s.f32(dx), inputShape, sh, sw, pt, pl);
    return dx;
  });
};

export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput,
};
