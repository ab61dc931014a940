import { describe, expect, it } from 'vitest';
import { halfToFloat, parseSafetensors, serializeSafetensors } from '../../src/vision/safetensors.js';

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
    expect(t.get('layer.weight')).toEqual({ shape: [2, 3], dtype: 'F32', values: a });
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
    ['an unsupported dtype', raw({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, f32(2)), /dtype "I64"; fastvision reads F32, F16 and BF16/],
    ['a bad shape', raw({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /shape \[-1\]/],
  ])('rejects %s with a clear error', (_what, bytes, message) => {
    expect(() => parseSafetensors(bytes, 'model.safetensors')).toThrow(/'model\.safetensors' is not a valid safetensors file/);
    expect(() => parseSafetensors(bytes, 'model.safetensors')).toThrow(message);
  });
});
