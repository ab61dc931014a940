/**
 * PIL's bilinear resampling (Pillow's `Resample.c`), which torchvision's ImageNet
 * training and fastai's `Resize` use: the same sampling grid (pixel centres,
 * `(x + 0.5) · scale`), a triangle filter widened by the scale when shrinking
 * (antialiasing), weights in 22-bit fixed point, horizontal pass first with a uint8
 * intermediate. Pretrained weights then see the pixels they were trained on; libvips'
 * bilinear, for one, is shifted by up to half a pixel when enlarging.
 */

import { resampleWasmBase64 } from './wasm/resampleWasm.js';

/** Pillow's fixed-point precision for 8-bit images: 32 bits − 8 for the value − 2 for the sign and rounding. */
const precisionBits = 22;

/** uint8 pixels, `height × width × channels`, row-major (HWC). */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** One axis' filter taps: for output `i`, source indices `first[i] … first[i] + count[i] − 1` with weights `weights[i · taps …]`. */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
  taps: number;
}

/** Pillow's `precompute_coeffs` with the bilinear (triangle) filter, then `normalize_coeffs_8bpc`. */
function bilinearTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support is 1, widened when shrinking
  const ss = 1 / filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const w = new Float64Array(taps);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamps follow it, as Pillow's do.
    const lo = Math.max(0, Math.trunc(centre - support + 0.5));
    const n = Math.min(inSize, Math.trunc(centre + support + 0.5)) - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const x = Math.abs((k + lo - centre + 0.5) * ss);
      w[k] = x < 1 ? 1 - x : 0;
      sum += w[k]!;
    }
    first[i] = lo;
    count[i] = n;
    for (let k = 0; k < n; k++) {
      const v = sum !== 0 ? w[k]! / sum : w[k]!;
      weights[i * taps + k] = Math.trunc(v < 0 ? -0.5 + v * (1 << precisionBits) : 0.5 + v * (1 << precisionBits));
    }
  }
  return { first, count, weights, taps };
}

/** A region of the source, in whole pixels: what fastai's `crop` cuts before it resizes. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resamples `src` (or the `box` region of it) to `width × height` as PIL's
 * `img.crop(box).resize((width, height), BILINEAR)` does: bit for bit, with no
 * reducing gap (the full antialiasing filter, as torchvision and fastai call it).
 *
 * @param src - uint8 pixels, HWC, at most 4 channels.
 * @param width - Output width.
 * @param height - Output height.
 * @param box - The source region; default the whole image.
 * @returns New uint8 pixels, `height × width × src.channels`.
 *
 * @example
 * ```ts
 * const small = resampleBilinear({ data, width: 500, height: 375, channels: 3 }, 224, 224);
 * ```
 */
export function resampleBilinear(src: Pixels, width: number, height: number, box?: Box): Pixels {
  const region = box ?? { left: 0, top: 0, width: src.width, height: src.height };
  checkArgs(src, width, height, region);
  const c = src.channels;
  const stride = src.width * c;
  const needH = width !== region.width;
  const needV = height !== region.height;
  const vertical = needV ? bilinearTaps(region.height, height) : undefined;
  // Only the source rows the vertical pass reads, as Pillow does.
  const top = vertical ? vertical.first[0]! : 0;
  const rows = vertical ? vertical.first[height - 1]! + vertical.count[height - 1]! - top : height;
  if (vertical) for (let y = 0; y < height; y++) vertical.first[y]! -= top; // rows of the copied buffer
  const horizontal = needH ? bilinearTaps(region.width, width) : undefined;

  const heap = new Heap();
  const srcStart = (region.top + top) * stride + region.left * c;
  const srcEnd = (region.top + top + rows - 1) * stride + (region.left + region.width) * c;
  const srcPtr = heap.bytes(srcEnd - srcStart);
  const hTaps = horizontal && heap.taps(horizontal);
  const vTaps = vertical && heap.taps(vertical);
  const tmpPtr = needH && needV ? heap.bytes(rows * width * c) : 0;
  const outLen = height * width * c;
  const outPtr = heap.bytes(outLen);
  const wasm = heap.commit();
  const mem = new Uint8Array(wasm.memory.buffer);
  mem.set(src.data.subarray(srcStart, srcEnd), srcPtr);
  hTaps?.write(mem);
  vTaps?.write(mem);
  if (needH) wasm.horizontal(srcPtr, stride, rows, c, width, ...hTaps!.args, needV ? tmpPtr : outPtr);
  if (needV) {
    const [from, fromStride] = needH ? [tmpPtr, width * c] : [srcPtr, stride];
    wasm.vertical(from, fromStride, width * c, height, ...vTaps!.args, outPtr);
  }
  if (!needH && !needV) {
    for (let y = 0; y < height; y++) mem.copyWithin(outPtr + y * width * c, srcPtr + y * stride, srcPtr + y * stride + width * c);
  }
  return { data: mem.slice(outPtr, outPtr + outLen), width, height, channels: c };
}

function checkArgs(src: Pixels, width: number, height: number, box: Box): void {
  const count = (v: number) => Number.isInteger(v) && v > 0;
  if (!count(width) || !count(height)) throw new RangeError(`fastvision: cannot resample to ${width}×${height}; width and height must be positive integers`);
  if (!(src.channels >= 1 && src.channels <= 4)) throw new RangeError(`fastvision: cannot resample ${src.channels}-channel pixels; expected 1 to 4`);
  if (src.data.length !== src.width * src.height * src.channels) {
    throw new RangeError(`fastvision: ${src.data.length} bytes are not ${src.width}×${src.height}×${src.channels} pixels`);
  }
  const inside = Number.isInteger(box.left) && Number.isInteger(box.top) && box.left >= 0 && box.top >= 0 && count(box.width) && count(box.height);
  if (!inside || box.left + box.width > src.width || box.top + box.height > src.height) {
    throw new RangeError(`fastvision: crop box ${JSON.stringify(box)} is not a region of the ${src.width}×${src.height} image`);
  }
}

interface ResampleExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  horizontal(src: number, stride: number, rows: number, c: number, outW: number, first: number, count: number, weights: number, taps: number, out: number): void;
  vertical(src: number, stride: number, rowLen: number, outH: number, first: number, count: number, weights: number, taps: number, out: number): void;
}

/** The part of the WebAssembly global used here (the repo's lib settings do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

let instance: ResampleExports | undefined;

/** Compiled once, synchronously: the module is under 1 kB. */
function resampleModule(): ResampleExports {
  const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  // atob, not Buffer: the same code resizes in the browser page.
  instance ??= new api.Instance(new api.Module(Uint8Array.from(atob(resampleWasmBase64), (c) => c.charCodeAt(0)))).exports as ResampleExports;
  return instance;
}

/** Lays out one call's buffers in the module's memory (each padded by 16 bytes: the loops over-read and over-write). */
class Heap {
  private end = 0;

  bytes(n: number): number {
    const at = this.end;
    this.end += Math.ceil((n + 16) / 16) * 16;
    return at;
  }

  taps(t: Taps): { args: [number, number, number, number]; write(mem: Uint8Array): void } {
    const first = this.bytes(t.first.byteLength);
    const count = this.bytes(t.count.byteLength);
    const weights = this.bytes(t.weights.byteLength);
    return {
      args: [first, count, weights, t.taps],
      write(mem) {
        for (const [at, a] of [[first, t.first], [count, t.count], [weights, t.weights]] as const) mem.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
      },
    };
  }

  /** The module, with memory for everything laid out. */
  commit(): ResampleExports {
    const wasm = resampleModule();
    const missing = this.end - wasm.memory.buffer.byteLength;
    if (missing > 0) wasm.memory.grow(Math.ceil(missing / 65536));
    return wasm;
  }
}
