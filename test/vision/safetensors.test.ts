import { describe, expect, it } from 'vitest';
import { checkSafetensorsFile } from '../../src/vision/weights.js';
import { halfToFloat, parseSafetensors, serializeSafetensors, type SafetensorsDtype } from '../../src/vision/safetensors.js';

/** A safetensors buffer from a header object and raw data bytes, with no checks: for malformed cases. */
function raw(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

const u16 = (...v: number[]) => new Uint8Array(new Uint16Array(v).buffer);

describe('parseSafetensors', () => {
  it('reads F32 tensors written by serializeSafetensors, with their shapes', () => {
    const a = new Float32Array([1, -2.5, 3e-8, 1e30, 0, -0]);
    const b = new Float32Array([42]);
    const t = parseSafetensors(serializeSafetensors({ 'layer.weight': { shape: [2, 3], values: a }, bias: { shape: [1], values: b } }), 'x');
    const w = t.get('layer.weight')!;
    expect([w.shape, w.dtype, w.values]).toEqual([[2, 3], 'F32', a]);
    expect(t.get('bias')!.values).toEqual(b);
  });

  it('reads F16 (normals, subnormals, infinities) and BF16 as float32', () => {
    const f16 = u16(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00);
    const bf16 = u16(0x3f80, 0xc000, 0x4049);
    const buf = raw(
      {
        h: { dtype: 'F16', shape: [6], data_offsets: [0, 12] },
        b: { dtype: 'BF16', shape: [3], data_offsets: [12, 18] },
        __metadata__: { format: 'pt' },
      },
      new Uint8Array([...f16, ...bf16]),
    );
    const t = parseSafetensors(buf, 'x');
    expect(Array.from(t.get('h')!.values)).toEqual([1, -2, 0.5, 65504, 2 ** -24, Number.POSITIVE_INFINITY]);
    expect(Array.from(t.get('b')!.values)).toEqual([1, -2, 3.140625]);
    expect(t.has('__metadata__')).toBe(false);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });

  it('reads a file through a Node Buffer (whose slices are views, not copies)', async () => {
    const dir = (await import('../helpers/images.js')).tempDir();
    const file = (await import('node:path')).join(dir, 'w.safetensors');
    const values = new Float32Array([0.5, -1, 2]);
    (await import('node:fs')).writeFileSync(file, serializeSafetensors({ pad: { shape: [5], values: new Float32Array(5).fill(9) }, w: { shape: [3], values } }));
    const t = await (await import('../../src/vision/safetensors.js')).loadSafetensors(file);
    expect(t.get('w')!.values).toEqual(values);
    const buffer = Buffer.concat([Buffer.alloc(3), Buffer.from(serializeSafetensors({ w: { shape: [3], values } }))]).subarray(3);
    expect(parseSafetensors(buffer, 'x').get('w')!.values).toEqual(values);
  });

  it('reads F32 data that is not 4-byte aligned in the file', () => {
    const value = new Uint8Array(new Float32Array([7.25]).buffer);
    const buf = raw({ a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, new Uint8Array([0, 0x3c, ...value]));
    expect(Array.from(parseSafetensors(buf, 'x').get('b')!.values)).toEqual([7.25]);
  });

  const f32 = (n: number) => new Uint8Array(n * 4);
  it.each([
    ['too short for the length', new Uint8Array(5), /5 bytes is too short/],
    ['a header longer than the file', raw({}, f32(1), 10_000n), /header claims 10000 bytes but the file has/],
    ['an absurd header length (no allocation)', raw({}, f32(1), 2n ** 62n), /header claims 4611686018427387904 bytes/],
    ['a header that is not JSON', (() => { const b = raw({ a: 1 }, f32(0)); b[9] = 0x7b; b[10] = 0x7b; return b; })(), /header is not JSON/],
    ['offsets past the data (truncated file)', raw({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /data_offsets \[0, 16\] outside the 8 data bytes \(a truncated file\?\)/],
    ['offsets that disagree with the shape', raw({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), /needs 12 bytes but has 8/],
    ['overlapping tensors', raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /'a' and 'b' overlap/],
    ['a dtype the format does not define', raw({ 'fc.weight': { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, f32(4)), /tensor 'fc\.weight' has dtype "F128", which the format does not define \(it defines BOOL, U8/],
    ['a sub-byte dtype that does not fill whole bytes', raw({ a: { dtype: 'F4', shape: [3], data_offsets: [0, 2] } }, f32(1)), /needs 12 bits, not whole bytes/],
    ['metadata that is not strings', raw({ __metadata__: { epochs: 3 } }, f32(0)), /__metadata__ is \{"epochs":3\}/],
    ['a bad shape', raw({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /shape \[-1\]/],
  ])('rejects %s with a clear error', (_what, bytes, message) => {
    expect(() => parseSafetensors(bytes, 'model.safetensors')).toThrow(/'model\.safetensors' is not a valid safetensors file/);
    expect(() => parseSafetensors(bytes, 'model.safetensors')).toThrow(message);
  });
});

describe('every dtype the format defines', () => {
  const le = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const cases: [SafetensorsDtype, Uint8Array, number[]][] = [
    ['F64', le(new Float64Array([0.1, -1e300, 2 ** -30])), [Math.fround(0.1), Number.NEGATIVE_INFINITY, 2 ** -30]],
    ['I64', le(new BigInt64Array([0n, -5n, 123456789012n])), [0, -5, Math.fround(123456789012)]],
    ['U64', le(new BigUint64Array([7n, 2n ** 63n])), [7, 2 ** 63]],
    ['I32', le(new Int32Array([-2147483648, 17])), [-2147483648, 17]],
    ['U32', le(new Uint32Array([4294967295])), [4294967296]],
    ['I16', le(new Int16Array([-32768, 3])), [-32768, 3]],
    ['U16', le(new Uint16Array([65535])), [65535]],
    ['I8', le(new Int8Array([-128, 127])), [-128, 127]],
    ['U8', new Uint8Array([0, 200, 255]), [0, 200, 255]],
    ['BOOL', new Uint8Array([0, 1, 1]), [0, 1, 1]],
    // float8: 1, -2, the largest finite, the smallest subnormal, NaN
    ['F8_E4M3', new Uint8Array([0x38, 0xc0, 0x7e, 0x01, 0x7f]), [1, -2, 448, 2 ** -9, Number.NaN]],
    ['F8_E5M2', new Uint8Array([0x3c, 0xc0, 0x7b, 0x01, 0x7c]), [1, -2, 57344, 2 ** -16, Number.POSITIVE_INFINITY]],
    ['F8_E8M0', new Uint8Array([127, 130, 0, 255]), [1, 8, 2 ** -127, Number.NaN]],
  ];

  it.each(cases)('%s becomes float32 by value', (dtype, bytes, expected) => {
    const file = serializeSafetensors({ t: { shape: [expected.length], dtype, bytes } });
    const t = parseSafetensors(file, 'x').get('t')!;
    expect(t.dtype).toBe(dtype);
    expect(Array.from(t.values)).toEqual(expected);
  });

  it('converts a tensor only when its values are read, so an unused sub-byte tensor is harmless', () => {
    const file = serializeSafetensors({
      packed: { shape: [4], dtype: 'F4', bytes: new Uint8Array([0x12, 0x34]) },
      w: { shape: [1], values: new Float32Array([3]) },
    });
    const t = parseSafetensors(file, 'model.safetensors');
    expect(Array.from(t.get('w')!.values)).toEqual([3]);
    expect(t.get('packed')!.shape).toEqual([4]);
    expect(() => t.get('packed')!.values).toThrow(/tensor 'packed' in 'model\.safetensors' has dtype F4, which packs several values per byte/);
  });

  it('the cache check applies the same header rules without reading the data', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = (await import('../helpers/images.js')).tempDir();
    const good = join(dir, 'good.safetensors');
    writeFileSync(good, serializeSafetensors({ n: { shape: [], dtype: 'I64', bytes: le(new BigInt64Array([3n])) }, w: { shape: [2], values: new Float32Array(2) } }));
    await expect(checkSafetensorsFile(good)).resolves.toBeUndefined();
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, raw({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)));
    await expect(checkSafetensorsFile(bad)).rejects.toThrow(/'.*bad\.safetensors' is not a valid safetensors file: tensor 'w' has dtype "Q4"/);
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, serializeSafetensors({ w: { shape: [4], values: new Float32Array(4) } }).subarray(0, 30));
    await expect(checkSafetensorsFile(cut)).rejects.toThrow(/not a valid safetensors file/);
  });

  it('serializeSafetensors refuses bytes that do not fit the shape', () => {
    expect(() => serializeSafetensors({ n: { shape: [2], dtype: 'I64', bytes: new Uint8Array(8) } })).toThrow(/tensor 'n' \(I64 \[2\]\) needs 16 bytes, got 8/);
  });
});
