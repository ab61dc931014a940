import { intAttr, intsAttr } from '../proto.js';
import { requireChannelsLast, requireLinear, unsupportedForTraining, type LayerWriter } from './layerStep.js';
import type { TrainGraph, TVal } from './trainGraph.js';

interface ConvConfig {
  strides: number[];
  padding: 'valid' | 'same' | 'causal';
  dilationRate: number[] | number;
  useBias: boolean;
  depthMultiplier?: number;
}

/**
 * Conv2D and DepthwiseConv2D (depth multiplier 1) in a training step: forward Conv; weight gradient by im2col + MatMul;
 * input gradient by a Conv with the flipped kernel (stride 1) or a ConvTranspose
 * (strided). These are the forms measured fastest on ONNX Runtime's CPU provider
 * (see the reference notes): a weight gradient written as a Conv runs as one
 * tiny GEMM per input channel, and a negative-step Slice (the obvious flip) is slow.
 * Padding is explicit and static: 'same' as TF pads (the odd pixel at the end), plus
 * a ZeroPadding2D folded in by the compiler.
 */
export const convTrain: LayerWriter = (layer, [x], ctx) => {
  const { graph } = ctx;
  requireChannelsLast(layer);
  requireLinear(layer);
  const config = layer.getConfig() as unknown as ConvConfig;
  const depthwise = layer.getClassName() === 'DepthwiseConv2D';
  if (depthwise && (config.depthMultiplier ?? 1) !== 1) throw unsupportedForTraining(layer, `depth multiplier ${config.depthMultiplier} (only 1 has a backward pass)`);
  const dil = Array.isArray(config.dilationRate) ? config.dilationRate : [config.dilationRate];
  if (dil.some((d) => d !== 1)) throw unsupportedForTraining(layer, 'dilated convolutions have no backward pass yet');
  if (config.padding === 'causal') throw unsupportedForTraining(layer, "padding 'causal'");
  const w = ctx.weight(depthwise ? 'depthwise_kernel' : 'kernel')!;
  const b = config.useBias ? ctx.weight('bias') : undefined;
  const [n, c, h, wd] = x!.shape as [number, number, number, number];
  const [o, , kh, kw] = w.shape as [number, number, number, number];
  const [sh, sw] = config.strides as [number, number];
  const pads = staticPads(config.padding, [h, wd], [kh, kw], [sh, sw], ctx.foldedPads);
  const ho = Math.floor((h + pads[0]! + pads[2]! - kh) / sh) + 1;
  const wo = Math.floor((wd + pads[1]! + pads[3]! - kw) / sw) + 1;
  const group = depthwise ? [intAttr('group', c)] : [];
  const attrs = [intsAttr('kernel_shape', [kh, kw]), intsAttr('strides', [sh, sw]), intsAttr('pads', pads), ...group];
  const y = graph.op('Conv', [x!, w, ...(b ? [b] : [])], [n, o, ho, wo], layer.name, attrs);

  return {
    output: y,
    backward(dy, [needX]) {
      const name = `${layer.name}_grad`;
      const dw: Record<string, TVal> = {};
      if (ctx.trainable) {
        if (depthwise) dw.depthwise_kernel = depthwiseWeightGradient(graph, x!, dy, [kh, kw], [sh, sw], pads, name);
        else dw.kernel = weightGradient(graph, x!, dy, [kh, kw], [sh, sw], pads, name);
        if (b) dw.bias = graph.reduceSum(dy, [0, 2, 3], false, `${name}_bias`);
      }
      const dx = needX ? inputGradient(graph, dy, w, [n, c, h, wd], [kh, kw], [sh, sw], pads, depthwise, name) : undefined;
      return { dx: [dx], dw };
    },
  };
};

/** ONNX `pads` [top, left, bottom, right] for a conv on an `in`-sized image: TF's 'same', plus folded zero padding. */
export function staticPads(mode: 'valid' | 'same', input: number[], kernel: number[], strides: number[], folded = [0, 0, 0, 0]): number[] {
  const begin = [0, 0];
  const end = [0, 0];
  if (mode === 'same') {
    for (const a of [0, 1]) {
      const padded = input[a]! + folded[a]! + folded[a + 2]!;
      const total = Math.max((Math.ceil(padded / strides[a]!) - 1) * strides[a]! + kernel[a]! - padded, 0);
      begin[a] = Math.floor(total / 2);
      end[a] = total - begin[a]!;
    }
  }
  return [begin[0]! + folded[0]!, begin[1]! + folded[1]!, end[0]! + folded[2]!, end[1]! + folded[3]!];
}

/**
 * dW `[O, C, kh, kw]` = dY · im2col(X)ᵀ as one GEMM, im2col laid out `(C·kh·kw, N·Ho·Wo)`
 * from X transposed to `(C, N, H, W)` and padded, so each tap's strided Slice is a block
 * of rows and the GEMM's result is already in ONNX's order (ORT fuses the transpose
 * of B into the GEMM). Taking the taps is a third of the weight gradient's time and
 * structural: ONNX has no im2col. Measured on ResNet-18 and not kept: a GEMM per tap
 * without the Concat (slower GEMMs), taps in NHWC (the transposes cost more), taps as
 * contiguous windows of the flattened image with dY zero-padded to match (no faster),
 * taps as negative-pad crops (slower).
 */
function weightGradient(graph: TrainGraph, x: TVal, dy: TVal, [kh, kw]: [number, number], [sh, sw]: [number, number], pads: number[], name: string): TVal {
  const [n, c] = x.shape as [number, number];
  const [, o, ho, wo] = dy.shape as [number, number, number, number];
  const cols = n * ho * wo;
  const xp = graph.pad(graph.transpose(x, [1, 0, 2, 3], `${name}_xt`), [0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!], `${name}_xpad`);
  const dyr = graph.reshape(graph.transpose(dy, [1, 0, 2, 3], `${name}_dyt`), [o, cols], `${name}_dyr`);
  const parts: TVal[] = [];
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const whole = i === 0 && j === 0 && sh === 1 && sw === 1 && xp.shape[2] === ho && xp.shape[3] === wo;
      const tap = whole ? xp : graph.slice(xp, [2, 3], [i, j], [i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1], [sh, sw], `${name}_tap${i}_${j}`);
      parts.push(graph.reshape(tap, [c, 1, cols], `${name}_tap${i}_${j}_r`));
    }
  const im2col = graph.reshape(parts.length === 1 ? parts[0]! : graph.concat(parts, 1, `${name}_cols`), [c * kh * kw, cols], `${name}_cols2d`);
  return graph.reshape(graph.gemm(dyr, im2col, false, true, `${name}_dw`), [o, c, kh, kw], `${name}_kernel`);
}

/**
 * A depthwise kernel's gradient `[C, 1, kh, kw]` (depth multiplier 1): per tap, the
 * strided window of the padded input times dY, summed over batch and space — one
 * elementwise product and one reduction per tap, no GEMM (each channel has one filter).
 */
function depthwiseWeightGradient(graph: TrainGraph, x: TVal, dy: TVal, [kh, kw]: [number, number], [sh, sw]: [number, number], pads: number[], name: string): TVal {
  const c = x.shape[1]!;
  const [, , ho, wo] = dy.shape as [number, number, number, number];
  const xp = graph.pad(x, [0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!], `${name}_xpad`);
  const parts: TVal[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const whole = i === 0 && j === 0 && sh === 1 && sw === 1 && xp.shape[2] === ho && xp.shape[3] === wo;
      const tap = whole ? xp : graph.slice(xp, [2, 3], [i, j], [i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1], [sh, sw], `${name}_tap${i}_${j}`);
      const summed = graph.reduceSum(graph.bin('Mul', tap, dy, `${name}_prod${i}_${j}`), [0, 2, 3], false, `${name}_dw${i}_${j}`);
      parts.push(graph.reshape(summed, [c, 1], `${name}_dw${i}_${j}_r`));
    }
  }
  const stacked = parts.length === 1 ? parts[0]! : graph.concat(parts, 1, `${name}_dwtaps`);
  return graph.reshape(stacked, [c, 1, kh, kw], `${name}_depthwise_kernel`);
}

/**
 * dX `[N, C, H, W]`. Stride 1: the full correlation of dY with the kernel flipped in
 * space and transposed in↔out, pads `k − 1 − p`. Strided: ConvTranspose with the
 * same weight, pads and an `output_padding` giving back the input's size (the rows a
 * strided conv never read get zeros).
 */
function inputGradient(graph: TrainGraph, dy: TVal, w: TVal, xShape: number[], [kh, kw]: [number, number], [sh, sw]: [number, number], pads: number[], depthwise: boolean, name: string): TVal {
  // Depthwise: one group per channel, each 1 → 1, so the in↔out transpose is the identity.
  const group = depthwise ? [intAttr('group', xShape[1]!)] : [];
  const [o, c] = w.shape as [number, number];
  const fullPads = [kh - 1 - pads[0]!, kw - 1 - pads[1]!, kh - 1 - pads[2]!, kw - 1 - pads[3]!];
  if (sh === 1 && sw === 1 && fullPads.every((p) => p >= 0)) {
    let flipped = w;
    if (kh * kw > 1) {
      // Reversing the flattened kh·kw taps flips both spatial axes: a MatMul with the anti-identity.
      const k = kh * kw;
      const anti = new Float32Array(k * k);
      for (let a = 0; a < k; a++) anti[a * k + (k - 1 - a)] = 1;
      const j = { name: graph.constTensor(`flip${kh}x${kw}`, [k, k], anti), shape: [k, k] };
      const rows = graph.reshape(w, [o * c, k], `${name}_w2d`);
      flipped = graph.reshape(graph.matmul(rows, j, `${name}_wflip2d`), [o, c, kh, kw], `${name}_wflip`);
    }
    const wt = depthwise ? flipped : graph.transpose(flipped, [1, 0, 2, 3], `${name}_wT`);
    const attrs = [intsAttr('kernel_shape', [kh, kw]), intsAttr('pads', fullPads), ...group];
    return graph.op('Conv', [dy, wt], xShape, `${name}_dx`, attrs);
  }
  const [, , ho, wo] = dy.shape as [number, number, number, number];
  const outPad = [xShape[2]! - ((ho - 1) * sh - pads[0]! - pads[2]! + kh), xShape[3]! - ((wo - 1) * sw - pads[1]! - pads[3]! + kw)];
  const attrs = [intsAttr('kernel_shape', [kh, kw]), intsAttr('strides', [sh, sw]), intsAttr('pads', pads), intsAttr('output_padding', outPad), ...group];
  return graph.op('ConvTranspose', [dy, w], xShape, `${name}_dx`, attrs);
}
