import { readFile } from 'node:fs/promises';
import { isSafetensorsDtype, safetensorsDtypeBits, toFloat32, type SafetensorsDtype } from './safetensorsDtypes.js';
import { FastvisionError } from '../core/errors.js';

export { halfToFloat, type SafetensorsDtype } from './safetensorsDtypes.js';

/** A tensor read from a safetensors file. `values` (float32) is converted from the file's dtype when first read. */
export interface TensorData {
  shape: number[];
  values: Float32Array;
  /** The dtype in the file. */
  dtype: SafetensorsDtype;
}

/** One entry of a safetensors header, checked: its bytes are `data[begin, end)` after the header. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** A checked safetensors header. */
export interface SafetensorsHeader {
  /** Tensors in the order of their data. */
  entries: SafetensorsEntry[];
  /** `__metadata__` (string → string), or `{}`. */
  metadata: Record<string, string>;
  /** Where the data starts: 8 + the header's length. */
  dataStart: number;
}

/** The safetensors format caps its JSON header at 100 MB; a larger claim is a corrupt file, not an allocation. */
const maxHeaderBytes = 100_000_000;

/**
 * The length of a safetensors header, from the file's first 8 bytes, checked against
 * the file's size and the format's 100 MB cap (so nothing absurd is allocated).
 *
 * @param first8 - The file's first 8 bytes (fewer if the file is shorter).
 * @param fileBytes - The file's size.
 * @param source - Names the file in error messages.
 *
 * @example
 * ```ts
 * const n = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.byteLength, 'model.safetensors');
 * ```
 */
export function safetensorsHeaderLength(first8: Uint8Array, fileBytes: number, source: string): number {
  const fail = invalid(source);
  if (first8.byteLength < 8 || fileBytes < 8) fail(`${Math.min(first8.byteLength, fileBytes)} bytes is too short for the 8-byte header length`);
  const headerLength = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(fileBytes - 8)) fail(`its header claims ${headerLength} bytes but the file has ${fileBytes - 8} after the length`);
  if (headerLength > BigInt(maxHeaderBytes)) fail(`its header claims ${headerLength} bytes (the format allows 100 MB)`);
  return Number(headerLength);
}

/**
 * Checks a safetensors header: every entry's dtype (every dtype the format defines),
 * shape and data offsets against the data the file holds, that no two tensors
 * overlap, and the metadata. One validator serves parsing and the weights cache's
 * check (which reads only the header). A malformed file is an error naming `source`
 * and what is wrong.
 *
 * @param header - The header's bytes (after the 8-byte length; see {@link safetensorsHeaderLength}).
 * @param fileBytes - The whole file's size.
 * @param source - Names the file in error messages.
 *
 * @example
 * ```ts
 * const n = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.byteLength, 'model.safetensors');
 * const { entries } = checkSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.byteLength, 'model.safetensors');
 * ```
 */
export function checkSafetensorsHeader(header: Uint8Array, fileBytes: number, source: string): SafetensorsHeader {
  const fail = invalid(source);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(header)) as Record<string, unknown>;
  } catch (err) {
    return fail(`its header is not JSON (${(err as Error).message})`);
  }
  if (json == null || typeof json !== 'object' || Array.isArray(json)) fail('its header is not a JSON object');
  const dataStart = 8 + header.byteLength;
  const entries = Object.entries(json)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, raw]) => checkEntry(name, raw, fileBytes - dataStart, fail));
  entries.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.begin < entries[i - 1]!.end) fail(`tensors '${entries[i - 1]!.name}' and '${entries[i]!.name}' overlap`);
  }
  return { entries, metadata: checkMetadata(json.__metadata__, fail), dataStart };
}

/** Both checks on a whole file in memory. */
function checkBuffer(bytes: Uint8Array, source: string): SafetensorsHeader {
  const n = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.byteLength, source);
  return checkSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.byteLength, source);
}

/**
 * Reads a safetensors buffer: an 8-byte little-endian header length, a JSON header
 * of `{ name: { dtype, shape, data_offsets: [begin, end] } }`, then raw little-endian
 * data. Every header claim is checked before anything is allocated
 * ({@link checkSafetensorsHeader}); each tensor's values become float32 only when
 * first read, so tensors nobody uses (PyTorch's int64 `num_batches_tracked`, say)
 * are never converted.
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
  const { entries, dataStart } = checkBuffer(bytes, source);
  const out = new Map<string, TensorData>();
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    let values: Float32Array | undefined;
    out.set(e.name, {
      shape: e.shape,
      dtype: e.dtype,
      get values() {
        values ??= toFloat32(raw, e.dtype, `tensor '${e.name}' in '${source}'`);
        return values;
      },
    });
  }
  return out;
}

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
  return checkBuffer(bytes, 'safetensors buffer').metadata;
}

/**
 * Reads a safetensors file into tensors by name, converted to float32 when read; every header claim is checked.
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
    throw new FastvisionError('BAD_FILE', `fastvision: cannot read '${file}': ${(err as Error).message}`, { cause: err });
  }
  return parseSafetensors(bytes, file);
}

const invalid =
  (source: string) =>
  (why: string): never => {
    throw new FastvisionError('BAD_FILE', `fastvision: '${source}' is not a valid safetensors file: ${why}`);
  };

function checkEntry(name: string, raw: unknown, dataLength: number, fail: (why: string) => never): SafetensorsEntry {
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (e == null || typeof e !== 'object') fail(`tensor '${name}' has no description`);
  if (!isSafetensorsDtype(e.dtype)) {
    fail(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}, which the format does not define (it defines ${Object.keys(safetensorsDtypeBits).join(', ')})`);
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
  const bits = shape.reduce((a, b) => a * b, 1) * safetensorsDtypeBits[dtype];
  const expected = Math.ceil(bits / 8);
  if (bits % 8 !== 0 || end - begin !== expected) fail(`tensor '${name}' (${dtype} ${JSON.stringify(shape)}) needs ${bits % 8 ? `${bits} bits, not whole bytes,` : `${expected} bytes`} but has ${end - begin}`);
  return { name, dtype, shape, begin, end };
}

function checkMetadata(raw: unknown, fail: (why: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
    fail(`its __metadata__ is ${JSON.stringify(raw)}; the format requires an object of strings`);
  }
  return raw as Record<string, string>;
}

/** A tensor to write: float32 values, or bytes already in `dtype`'s little-endian layout (int64 buffers, say). */
export type TensorToWrite = { shape: number[]; values: Float32Array } | { shape: number[]; dtype: SafetensorsDtype; bytes: Uint8Array };

/**
 * Writes tensors as a safetensors buffer, with optional string metadata: for
 * checkpoints, exports and tests. Float32 values are written as F32; other dtypes
 * are written from their bytes.
 *
 * @param tensors - Tensors by name.
 * @param metadata - Optional string metadata for the header.
 *
 * @example
 * ```ts
 * await writeFile('w.safetensors', serializeSafetensors({
 *   'fc.weight': { shape: [2, 3], values: new Float32Array(6) },
 *   'bn.num_batches_tracked': { shape: [], dtype: 'I64', bytes: new Uint8Array(new BigInt64Array([100n]).buffer) },
 * }));
 * ```
 */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const [dtype, bytes] = 'values' in t ? (['F32', new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength)] as const) : [t.dtype, t.bytes];
    const need = (t.shape.reduce((a, b) => a * b, 1) * safetensorsDtypeBits[dtype]) / 8;
    if (need !== bytes.byteLength) throw new FastvisionError('BAD_FILE', `fastvision: tensor '${name}' (${dtype} [${t.shape.join(', ')}]) needs ${need} bytes, got ${bytes.byteLength}`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padding = (8 - (json.byteLength % 8)) % 8; // the format pads the header with spaces to 8 bytes
  const headerBytes = new Uint8Array(json.byteLength + padding).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}
