import { readFile } from 'node:fs/promises';

/** A tensor read from a safetensors file, as float32. */
export interface TensorData {
  shape: number[];
  values: Float32Array;
  /** The dtype in the file. */
  dtype: SafetensorsDtype;
}

/**
 * The element types fastvision reads from safetensors files (all become float32).
 */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const dtypeBytes: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** The safetensors format caps its JSON header at 100 MB; a larger claim is a corrupt file, not an allocation. */
const maxHeaderBytes = 100_000_000;

/**
 * Reads a safetensors buffer: an 8-byte little-endian header length, a JSON header
 * of `{ name: { dtype, shape, data_offsets: [begin, end] } }`, then raw little-endian
 * data. F32, F16 and BF16 become float32. Every claim of the header is checked
 * against the buffer before anything is allocated: a malformed file is an error
 * naming `source` and what is wrong.
 *
 * @param bytes - The whole file.
 * @param source - Names the file in error messages.
 *
 * @example
 * ```ts
 * const tensors = parseSafetensors(new Uint8Array(await readFile('model.safetensors')), 'model.safetensors');
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source: string): Map<string, TensorData> {
  const fail = (why: string): never => {
    throw new Error(`fastvision: '${source}' is not a valid safetensors file: ${why}`);
  };
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) fail(`its header claims ${headerLength} bytes but the file has ${bytes.byteLength - 8} after the length`);
  if (headerLength > BigInt(maxHeaderBytes)) fail(`its header claims ${headerLength} bytes (the format allows 100 MB)`);
  const headerEnd = 8 + Number(headerLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, headerEnd))) as Record<string, unknown>;
  } catch (err) {
    return fail(`its header is not JSON (${(err as Error).message})`);
  }
  if (header == null || typeof header !== 'object' || Array.isArray(header)) fail('its header is not a JSON object');
  const dataLength = bytes.byteLength - headerEnd;
  const entries = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, raw]) => checkEntry(name, raw, dataLength, fail));
  entries.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.begin < entries[i - 1]!.end) fail(`tensors '${entries[i - 1]!.name}' and '${entries[i]!.name}' overlap`);
  }
  const out = new Map<string, TensorData>();
  for (const e of entries) {
    out.set(e.name, { shape: e.shape, dtype: e.dtype, values: toFloat32(bytes.subarray(headerEnd + e.begin, headerEnd + e.end), e.dtype) });
  }
  return out;
}

/** Reads and parses a safetensors file. */
/**
 * The `__metadata__` of a safetensors buffer (string → string), or `{}`.
 *
 * @param bytes - The whole file (only the header is read).
 *
 * @example
 * ```ts
 * safetensorsMetadata(bytes);   // e.g. { format: 'pt' }
 * ```
 */
export function safetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as { __metadata__?: Record<string, string> };
  return header.__metadata__ ?? {};
}

/**
 * Reads a safetensors file into float32 tensors by name (F16 and BF16 converted); every header claim is checked.
 *
 * @param file - The file's path.
 *
 * @example
 * ```ts
 * const tensors = await loadSafetensors('model.safetensors');
 * for (const [name, t] of tensors) console.log(name, t.shape, t.dtype);
 * ```
 */
export async function loadSafetensors(file: string): Promise<Map<string, TensorData>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new Error(`fastvision: cannot read '${file}': ${(err as Error).message}`, { cause: err });
  }
  return parseSafetensors(bytes, file);
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function checkEntry(name: string, raw: unknown, dataLength: number, fail: (why: string) => never): Entry {
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (e == null || typeof e !== 'object') fail(`tensor '${name}' has no description`);
  if (typeof e.dtype !== 'string' || !(e.dtype in dtypeBytes)) {
    fail(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; fastvision reads F32, F16 and BF16`);
  }
  const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(e.shape) || !e.shape.every(isCount)) fail(`tensor '${name}' has shape ${JSON.stringify(e.shape)}`);
  const offsets = e.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    fail(`tensor '${name}' has data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLength) {
    fail(`tensor '${name}' has data_offsets [${begin}, ${end}] outside the ${dataLength} data bytes (a truncated file?)`);
  }
  const dtype = e.dtype as SafetensorsDtype;
  const shape = e.shape as number[];
  const expected = shape.reduce((a, b) => a * b, 1) * dtypeBytes[dtype];
  if (end - begin !== expected) fail(`tensor '${name}' (${dtype} ${JSON.stringify(shape)}) needs ${expected} bytes but has ${end - begin}`);
  return { name, dtype, shape, begin, end };
}

function toFloat32(raw: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  // Copy first: tensor data in a safetensors file need not be 4-byte aligned. (Not
  // `raw.slice()`: on a Node Buffer that is a view, not a copy.)
  const bytes = new Uint8Array(raw);
  if (dtype === 'F32') return new Float32Array(bytes.buffer, 0, bytes.byteLength / 4);
  const halves = new Uint16Array(bytes.buffer, 0, bytes.byteLength / 2);
  const out = new Float32Array(halves.length);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < halves.length; i++) bits[i] = halves[i]! << 16;
  } else {
    for (let i = 0; i < halves.length; i++) out[i] = halfToFloat(halves[i]!);
  }
  return out;
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

/**
 * Writes tensors as a safetensors buffer (F32), with optional string metadata: for checkpoints and tests.
 *
 * @param tensors - float32 tensors by name.
 * @param metadata - Optional string metadata for the header.
 *
 * @example
 * ```ts
 * await writeFile('w.safetensors', serializeSafetensors({ 'fc.weight': { shape: [2, 3], values: new Float32Array(6) } }));
 * ```
 */
export function serializeSafetensors(tensors: Record<string, { shape: number[]; values: Float32Array }>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.values.byteLength] };
    offset += t.values.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padding = (8 - (json.byteLength % 8)) % 8; // the format pads the header with spaces to 8 bytes
  const headerBytes = new Uint8Array(json.byteLength + padding).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength), at);
    at += t.values.byteLength;
  }
  return out;
}
