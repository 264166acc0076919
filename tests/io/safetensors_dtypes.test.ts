import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { f8BitsToNumber, loadWeights, parseSafetensors, serializeSafetensors } from '../../src/io/index.js';
import { LayerNorm } from '../../src/layers/index.js';

/** A one-tensor safetensors file from raw bytes (hand-built, as another writer would make it). */
function rawFile(dtype: string, shape: number[], bytes: number[]): Uint8Array {
  const header = JSON.stringify({ t: { dtype, shape, data_offsets: [0, bytes.length] } });
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + bytes.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(bytes, 8 + h.length);
  return out;
}

describe('safetensors: the other dtypes', () => {
  it('F64 reads losslessly with decode()/float64() and rounds to float32 for float32()/toTensor()', () => {
    const v = [0.1, -1e300, 1e-320, 1 / 3, 123456789.123];
    const f = parseSafetensors(serializeSafetensors({ t: { dtype: 'F64', shape: [5], data: v } }));
    expect(f.info('t').dtype).toBe('F64');
    expect(Array.from(f.decode('t') as Float64Array)).toEqual(v);
    expect(Array.from(f.float64('t'))).toEqual(v);
    const f32 = f.float32('t');
    expect(Array.from(f32)).toEqual(v.map(Math.fround)); // -1e300 -> -Infinity, 1e-320 -> 0: documented
    expect(f32[1]).toBe(-Infinity);
    const t = f.toTensor('t');
    expect(t.dtype).toBe('float32');
    t.dispose();
  });

  it('a weight stored as F64 loads (rounded to float32)', () => {
    const norm = new LayerNorm({ dim: 3, eps: 1e-6 });
    const bytes = serializeSafetensors({
      weight: { dtype: 'F64', shape: [3], data: [1.5, 0.1, -2] },
      bias: { dtype: 'F32', shape: [3], data: [0, 0, 1] },
    });
    loadWeights(norm, bytes);
    expect(Array.from(norm.namedWeights().get('weight')!.read().dataSync())).toEqual([1.5, Math.fround(0.1), -2]);
    norm.dispose();
  });

  it('I8, I16, U16, U32, U64 read exactly (and as int32 where they fit)', () => {
    const f = parseSafetensors(
      serializeSafetensors({
        i8: { dtype: 'I8', shape: [3], data: [-128, 0, 127] },
        i16: { dtype: 'I16', shape: [2], data: [-32768, 32767] },
        u16: { dtype: 'U16', shape: [2], data: [0, 65535] },
        u32: { dtype: 'U32', shape: [2], data: [7, 4294967295] },
        u64: { dtype: 'U64', shape: [2], data: [5n, 2n ** 64n - 1n] },
        small: { dtype: 'U64', shape: [2], data: [0, 2 ** 31 - 1] },
      }),
    );
    expect(Array.from(f.decode('i8') as Int8Array)).toEqual([-128, 0, 127]);
    expect(Array.from(f.int32('i8'))).toEqual([-128, 0, 127]);
    expect(Array.from(f.int32('i16'))).toEqual([-32768, 32767]);
    expect(Array.from(f.decode('u16') as Uint16Array)).toEqual([0, 65535]);
    expect(Array.from(f.decode('u32') as Uint32Array)).toEqual([7, 4294967295]);
    expect(Array.from(f.bigint64('u32'))).toEqual([7n, 4294967295n]);
    expect(Array.from(f.decode('u64') as BigUint64Array)).toEqual([5n, 2n ** 64n - 1n]);
    expect(Array.from(f.int32('small'))).toEqual([0, 2 ** 31 - 1]);
    expect(() => f.int32('u32')).toThrow(/tensor 'u32': U32 value 4294967295 at element 1 does not fit in int32/);
    expect(() => f.int32('u64')).toThrow(/tensor 'u64': U64 value 18446744073709551615 at element 1 does not fit in int32/);
    expect(() => f.bigint64('u64')).toThrow(/does not fit in int64/);
    expect(() => f.float32('i8')).toThrow(/float32\(\) needs a float dtype/);
    const t = f.toTensor('i16');
    expect(t.dtype).toBe('int32');
    expect(Array.from(t.dataSync())).toEqual([-32768, 32767]);
    t.dispose();
  });

  it('F8_E4M3 (e4m3fn) and F8_E5M2 decode exactly (hand-checked bit patterns)', () => {
    // E4M3: 0x38 = 1, 0xb8 = -1, 0x7e = 448 (max), 0x01 = 2^-9 (min subnormal), 0x7f = NaN, 0x3c = 1.5.
    const e4 = parseSafetensors(rawFile('F8_E4M3', [6], [0x38, 0xb8, 0x7e, 0x01, 0x7f, 0x3c]));
    const a = Array.from(e4.float32('t'));
    expect(a.slice(0, 4)).toEqual([1, -1, 448, 2 ** -9]);
    expect(a[4]).toBeNaN();
    expect(a[5]).toBe(1.5);
    // E5M2: 0x3c = 1, 0x7b = 57344 (max), 0x7c = inf, 0xfc = -inf, 0x7d = NaN, 0x01 = 2^-16.
    const e5 = parseSafetensors(rawFile('F8_E5M2', [6], [0x3c, 0x7b, 0x7c, 0xfc, 0x7d, 0x01]));
    const b = Array.from(e5.float32('t'));
    expect(b.slice(0, 4)).toEqual([1, 57344, Infinity, -Infinity]);
    expect(b[4]).toBeNaN();
    expect(b[5]).toBe(2 ** -16);
    expect(f8BitsToNumber(0x80, 'F8_E4M3')).toBe(-0);
  });

  it('names the sub-byte and scale dtypes in a clear error', () => {
    for (const d of ['F4', 'F6_E2M3', 'F6_E3M2', 'F8_E8M0']) {
      expect(() => parseSafetensors(rawFile(d, [1], [0]))).toThrow(new RegExp(`dtype '${d}' \\(.*\\) is not supported by this reader`));
    }
    const before = tf.memory().numTensors;
    expect(() => parseSafetensors(rawFile('Q4', [1], [0]))).toThrow(/unknown dtype 'Q4'/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
