import { FastvisionError } from '../core/errors.js';

/**
 * Every element type the safetensors format defines, with its size in bits. Hub
 * files written by PyTorch carry int64 buffers (BatchNorm's `num_batches_tracked`);
 * quantised files carry 8-bit floats.
 *
 * @example
 * ```ts
 * safetensorsDtypeBits.I64;   // 64
 * ```
 */
export const safetensorsDtypeBits = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  F64: 64,
  I64: 64,
  U64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
} as const;

/** An element type of the safetensors format. */
export type SafetensorsDtype = keyof typeof safetensorsDtypeBits;

/** Whether `v` names a dtype of the format. */
export function isSafetensorsDtype(v: unknown): v is SafetensorsDtype {
  return typeof v === 'string' && Object.hasOwn(safetensorsDtypeBits, v);
}

/**
 * Converts a tensor's raw little-endian bytes to float32 (integers and booleans by
 * value; int64 beyond 2^24 rounds, as float32 must). Sub-byte floats (F4, F6) pack
 * several values per byte in an order the format leaves open: they are refused.
 *
 * @param raw - The tensor's bytes (any alignment).
 * @param dtype - Its dtype.
 * @param describe - Names the tensor and file for the error.
 */
export function toFloat32(raw: Uint8Array, dtype: SafetensorsDtype, describe: string): Float32Array {
  // Copy first: tensor data in a safetensors file need not be aligned. (Not
  // `raw.slice()`: on a Node Buffer that is a view, not a copy.)
  const bytes = new Uint8Array(raw);
  const { buffer } = bytes;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, 0, bytes.byteLength / 4);
    case 'F64':
      return Float32Array.from(new Float64Array(buffer, 0, bytes.byteLength / 8));
    case 'F16':
      return Float32Array.from(new Uint16Array(buffer, 0, bytes.byteLength / 2), halfToFloat);
    case 'BF16': {
      const halves = new Uint16Array(buffer, 0, bytes.byteLength / 2);
      const bits = Uint32Array.from(halves, (h) => h << 16);
      return new Float32Array(bits.buffer);
    }
    case 'I64':
      return Float32Array.from(new BigInt64Array(buffer, 0, bytes.byteLength / 8), Number);
    case 'U64':
      return Float32Array.from(new BigUint64Array(buffer, 0, bytes.byteLength / 8), Number);
    case 'I32':
      return Float32Array.from(new Int32Array(buffer, 0, bytes.byteLength / 4));
    case 'U32':
      return Float32Array.from(new Uint32Array(buffer, 0, bytes.byteLength / 4));
    case 'I16':
      return Float32Array.from(new Int16Array(buffer, 0, bytes.byteLength / 2));
    case 'U16':
      return Float32Array.from(new Uint16Array(buffer, 0, bytes.byteLength / 2));
    case 'I8':
      return Float32Array.from(new Int8Array(buffer));
    case 'U8':
      return Float32Array.from(bytes);
    case 'BOOL':
      return Float32Array.from(bytes, (b) => (b ? 1 : 0));
    case 'F8_E4M3':
      return Float32Array.from(bytes, e4m3ToFloat);
    case 'F8_E5M2':
      return Float32Array.from(bytes, e5m2ToFloat);
    case 'F8_E8M0':
      return Float32Array.from(bytes, (b) => (b === 0xff ? Number.NaN : 2 ** (b - 127)));
    default:
      throw new FastvisionError('BAD_FILE', `fastvision: ${describe} has dtype ${dtype}, which packs several values per byte in an order the safetensors format does not fix; fastvision does not convert it`);
  }
}

/** IEEE 754 binary16 → number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** float8 E4M3 as PyTorch's `float8_e4m3fn`: bias 7, no infinities, NaN only at S.1111.111. */
function e4m3ToFloat(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exponent = (b >> 3) & 0xf;
  const fraction = b & 0x7;
  if (exponent === 0xf && fraction === 0x7) return Number.NaN;
  if (exponent === 0) return sign * 2 ** -6 * (fraction / 8);
  return sign * 2 ** (exponent - 7) * (1 + fraction / 8);
}

/** float8 E5M2 (PyTorch's `float8_e5m2`): binary16's exponent with 2 fraction bits. */
function e5m2ToFloat(b: number): number {
  return halfToFloat(b << 8);
}
