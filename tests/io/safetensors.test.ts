import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DTYPE_SIZES,
  bf16BitsToNumber,
  f16BitsToNumber,
  numberToBf16Bits,
  numberToF16Bits,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
} from '../../src/index.js';
import { Rng } from '../../src/utils/random.js';
import { caseFile } from '../conformance/paths.js';

/** A file written byte by byte, independent of the library's writer. */
function handmade(header: string, data: number[] | Uint8Array = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Little-endian bytes of 16-bit patterns. */
const u16le = (...v: number[]): number[] => v.flatMap((x) => [x & 0xff, x >>> 8]);
const f32bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('safetensors reader: every dtype from hand-made bytes', () => {
  it('F32', () => {
    // 1.5 = 0x3fc00000, -2 = 0xc0000000
    const f = parseSafetensors(
      handmade('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0]),
    );
    expect(f.info('x')).toEqual({ dtype: 'F32', shape: [2], byteLength: 8, dataOffsets: [0, 8] });
    expect(Array.from(f.float32('x'))).toEqual([1.5, -2]);
  });

  it('F16 including subnormals, signed zeros, infinities and NaN', () => {
    const bits = [0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x8000, 0x0000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x8001];
    const want = [1, -2, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, -0, 0, 65504, Infinity, -Infinity, NaN, 0.333251953125, -(2 ** -24)];
    const f = parseSafetensors(
      handmade(`{"h":{"dtype":"F16","shape":[${bits.length}],"data_offsets":[0,${2 * bits.length}]}}`, u16le(...bits)),
    );
    const got = f.float32('h');
    want.forEach((w, i) => expect(Object.is(got[i], w), `element ${i}: ${got[i]} vs ${w}`).toBe(true));
  });

  it('BF16 (upper half of a float32)', () => {
    const bits = [0x3f80, 0xc000, 0x0001, 0x8000, 0x7f80, 0x7fc0, 0x4049];
    const want = [1, -2, 2 ** -133, -0, Infinity, NaN, 3.140625];
    const f = parseSafetensors(handmade('{"b":{"dtype":"BF16","shape":[7],"data_offsets":[0,14]}}', u16le(...bits)));
    const got = f.float32('b');
    want.forEach((w, i) => expect(Object.is(got[i], w), `element ${i}`).toBe(true));
  });

  it('I64 as int32 when it fits, BigInt on request, error naming the tensor otherwise', () => {
    const le64 = (v: bigint): number[] => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, v, true);
      return Array.from(b);
    };
    const vals = [1n, -1n, 2147483647n, -2147483648n];
    const f = parseSafetensors(handmade('{"i":{"dtype":"I64","shape":[2,2],"data_offsets":[0,32]}}', vals.flatMap(le64)));
    expect(Array.from(f.int32('i'))).toEqual([1, -1, 2147483647, -2147483648]);
    expect(f.decode('i')).toBeInstanceOf(Int32Array);
    expect(Array.from(f.bigint64('i'))).toEqual(vals);
    const big = handmade('{"labels":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}', [...le64(3n), ...le64(2147483648n)]);
    expect(() => parseSafetensors(big).int32('labels')).toThrow(
      /tensor 'labels': I64 value 2147483648 at element 1 does not fit in int32/,
    );
    const asBig = parseSafetensors(big, { int64: 'bigint' }).decode('labels');
    expect(asBig).toBeInstanceOf(BigInt64Array);
    expect(Array.from(asBig as BigInt64Array)).toEqual([3n, 2147483648n]);
    expect(() => parseSafetensors(big, { int64: 'x' as 'int32' })).toThrow(/options.int64 must be 'int32' or 'bigint', got string "x"/);
  });

  it('I32, BOOL, U8, scalars and empty tensors; toTensor dtypes and values', () => {
    const header =
      '{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"BOOL","shape":[3],"data_offsets":[8,11]},' +
      '"c":{"dtype":"U8","shape":[2],"data_offsets":[11,13]},' +
      '"s":{"dtype":"F16","shape":[],"data_offsets":[13,15]},' +
      '"e":{"dtype":"F32","shape":[2,0],"data_offsets":[15,15]}}';
    const f = parseSafetensors(handmade(header, [0xfb, 0xff, 0xff, 0xff, 7, 0, 0, 0, 1, 0, 1, 0, 255, 0x00, 0x3c]));
    expect(f.names()).toEqual(['a', 'b', 'c', 'e', 's']);
    expect(Array.from(f.int32('a'))).toEqual([-5, 7]);
    expect(Array.from(f.decode('b') as Uint8Array)).toEqual([1, 0, 1]);
    expect(Array.from(f.decode('c') as Uint8Array)).toEqual([0, 255]);
    expect(f.info('e').byteLength).toBe(0);
    const before = tf.memory().numTensors;
    const ts = ['a', 'b', 'c', 's', 'e'].map((n) => f.toTensor(n));
    expect(ts.map((t) => t.dtype)).toEqual(['int32', 'bool', 'int32', 'float32', 'float32']);
    expect(ts.map((t) => t.shape)).toEqual([[2], [3], [2], [], [2, 0]]);
    expect(Array.from(ts[1]!.dataSync())).toEqual([1, 0, 1]);
    expect(ts[3]!.dataSync()[0]).toBe(1);
    tf.dispose(ts);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects BOOL bytes other than 0/1 and wrong accessors, naming the tensor', () => {
    const f = parseSafetensors(
      handmade(
        '{"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]},"w":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}',
        [1, 2, 0, 0, 0, 0, 0, 0],
      ),
    );
    expect(() => f.int32('m')).toThrow(/tensor 'm': BOOL byte 2 at element 1 is not 0 or 1/);
    expect(() => f.toTensor('m')).toThrow(/BOOL byte 2/);
    expect(() => f.float32('m')).toThrow(/tensor 'm': float32\(\) needs a float dtype \(F64, F32, F16, BF16, F8_E4M3, F8_E5M2\), but it is BOOL/);
    expect(() => f.int32('w')).toThrow(/tensor 'w': int32\(\) needs an integer or BOOL dtype \(I64, I32, I16, I8, U64, U32, U16, U8, BOOL\), but it is F32/);
    expect(() => f.float32('nope')).toThrow(/no tensor named 'nope' \(the file has 2: m, w\)/);
    expect(() => f.info('nope')).toThrow(/no tensor named 'nope'/);
  });

  it('reads metadata and accepts a Node Buffer, an offset view and an ArrayBuffer', () => {
    const bytes = handmade('{"__metadata__":{"case":"x","n":"1"},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0x80, 0x3f]);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    for (const input of [Buffer.from(bytes), padded.subarray(3), bytes.slice().buffer]) {
      const f = parseSafetensors(input);
      expect(f.metadata).toEqual({ case: 'x', n: '1' });
      expect(Array.from(f.float32('t'))).toEqual([1]);
    }
    expect(parseSafetensors(handmade('{"__metadata__":null}')).metadata).toEqual({});
  });
});

describe('safetensors reader: each violation has its own error', () => {
  const entry = (e: string): Uint8Array => handmade(`{"t":${e}}`, new Array(8).fill(0));
  const cases: [string, Uint8Array, RegExp][] = [
    ['short file', new Uint8Array(5), /^safetensors: file is 5 bytes, shorter than the 8-byte header length$/],
    ['header length beyond the file', (() => { const b = handmade('{}'); b[0] = 100; return b; })(),
      /^safetensors: header length 100 exceeds the 2 bytes after the length field \(file is 10 bytes\)$/],
    ['header length with high bits', (() => { const b = handmade('{}'); b[5] = 1; return b; })(),
      /^safetensors: header length 1099511627778 exceeds the 2 bytes/],
    ['not UTF-8', handmade('{}').map((v, i) => (i === 9 ? 0xff : v)), /^safetensors: header is not valid UTF-8$/],
    ['not JSON', handmade('{"t":'), /^safetensors: header is not valid JSON \(/],
    ['empty header', handmade(''), /^safetensors: header is not valid JSON/],
    ['array header', handmade('[1,2]'), /^safetensors: header must be a JSON object, got array \[1,2\]$/],
    ['null header', handmade('null'), /^safetensors: header must be a JSON object, got null$/],
    ['entry not an object', entry('5'), /^safetensors: tensor 't': entry must be an object with dtype, shape and data_offsets, got number 5$/],
    ['missing dtype', entry('{"shape":[2],"data_offsets":[0,8]}'), /^safetensors: tensor 't': entry has no 'dtype'$/],
    ['missing shape', entry('{"dtype":"F32","data_offsets":[0,8]}'), /^safetensors: tensor 't': entry has no 'shape'$/],
    ['missing data_offsets', entry('{"dtype":"F32","shape":[2]}'), /^safetensors: tensor 't': entry has no 'data_offsets'$/],
    ['dtype not a string', entry('{"dtype":4,"shape":[2],"data_offsets":[0,8]}'), /^safetensors: tensor 't': dtype must be a string, got number 4$/],
    ['unknown dtype', entry('{"dtype":"F128","shape":[1],"data_offsets":[0,8]}'),
      /^safetensors: tensor 't': unknown dtype 'F128' \(supported: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL\)$/],
    ['sub-byte dtype', entry('{"dtype":"F4","shape":[2],"data_offsets":[0,1]}'),
      /^safetensors: tensor 't': dtype 'F4' \(a 4-bit float \(MXFP4 element, two per byte\)\) is not supported by this reader/],
    ['shape not an array', entry('{"dtype":"F32","shape":2,"data_offsets":[0,8]}'), /^safetensors: tensor 't': shape must be an array of integers, got number 2$/],
    ['negative shape entry', entry('{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}'),
      /^safetensors: tensor 't': shape\[1\] = number -1 is not a non-negative integer$/],
    ['fractional shape entry', entry('{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}'), /shape\[0\] = number 1.5 is not a non-negative integer/],
    ['string shape entry', entry('{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}'), /shape\[0\] = string "2" is not a non-negative integer/],
    ['unsafe shape entry', entry('{"dtype":"F32","shape":[1e300],"data_offsets":[0,8]}'), /shape\[0\] = number 1e\+300 is not a non-negative integer/],
    ['offsets not a pair', entry('{"dtype":"F32","shape":[2],"data_offsets":[0]}'),
      /^safetensors: tensor 't': data_offsets must be an array \[begin, end\], got array \[0\]$/],
    ['fractional offset', entry('{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}'),
      /^safetensors: tensor 't': data_offsets\[0\] = number 0.5 is not a non-negative integer$/],
    ['negative offset', entry('{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}'), /data_offsets\[1\] = number -8 is not a non-negative integer/],
    ['end before begin', entry('{"dtype":"F32","shape":[1],"data_offsets":[8,4]}'), /^safetensors: tensor 't': data_offsets \[8, 4\] end before they begin$/],
    ['outside the data section', entry('{"dtype":"F32","shape":[3],"data_offsets":[0,12]}'),
      /^safetensors: tensor 't': data_offsets \[0, 12\] reach beyond the data section, which has 8 bytes$/],
    ['byte length mismatch',
      handmade('{"blocks.0.attn.qkv.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,400]}}', new Array(400).fill(0)),
      /^safetensors: tensor 'blocks.0.attn.qkv.weight': data_offsets \[0, 400\] give 400 bytes, but shape \[3,4\] x F32 needs 48$/],
    ['huge shape does not wrap', entry('{"dtype":"F32","shape":[1073741824,1073741824,1073741824],"data_offsets":[0,8]}'),
      /give 8 bytes, but shape \[1073741824,1073741824,1073741824\] x F32 needs 4951760157141521099596496896$/],
    ['overlap', handmade('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', new Array(12).fill(0)),
      /^safetensors: tensors 'a' \[0, 8\] and 'b' \[4, 12\] overlap in the data section$/],
    ['metadata not an object', handmade('{"__metadata__":["x"]}'), /^safetensors: __metadata__ must be an object of strings, got array \["x"\]$/],
    ['metadata value not a string', handmade('{"__metadata__":{"seed":114}}'), /^safetensors: __metadata__ 'seed' must be a string, got number 114$/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      let err: unknown;
      try {
        parseSafetensors(bytes);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('checks every entry at parse time, not when a tensor is read', () => {
    const good = '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    expect(() => parseSafetensors(handmade(`{${good},"z":{"dtype":"F32","shape":[2],"data_offsets":[4,8]}}`, new Array(8).fill(0)))).toThrow(
      /tensor 'z': data_offsets \[4, 8\] give 4 bytes, but shape \[2\] x F32 needs 8/,
    );
  });

  it('accepts gaps, trailing bytes, zero-size tensors at any offset and unaligned data', () => {
    const f = parseSafetensors(
      handmade(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[1,5]},"e":{"dtype":"F32","shape":[0],"data_offsets":[2,2]},"b":{"dtype":"F16","shape":[1],"data_offsets":[7,9]}}',
        [9, 0, 0, 0x80, 0xbf, 9, 9, 0x00, 0x3c, 9, 9],
      ),
    );
    expect(Array.from(f.float32('a'))).toEqual([-1]);
    expect(Array.from(f.float32('b'))).toEqual([1]);
    expect(f.float32('e').length).toBe(0);
  });
});

describe('half-precision conversions', () => {
  it('F16: every bit pattern decodes and re-encodes to itself (NaN stays NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToNumber(h);
      const back = numberToF16Bits(v);
      if (Number.isNaN(v)) expect(Number.isNaN(f16BitsToNumber(back))).toBe(true);
      else if (back !== h) throw new Error(`f16 0x${h.toString(16)} -> ${v} -> 0x${back.toString(16)}`);
    }
  });

  it('F16: round to nearest, ties to even, overflow and underflow', () => {
    const cases: [number, number][] = [
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10 -> even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (1 + 2^-9)
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
      [65519, 0x7bff],
      [65520, 0x7c00], // rounds to infinity
      [-1e6, 0xfc00],
      [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal -> 0
      [-(2 ** -25), 0x8000],
      [2 ** -25 * (1 + 2 ** -23), 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between subnormals 1 and 2 -> 2
      [5 * 2 ** -25, 0x0002], // tie between 2 and 3 -> 2
      [2 ** -14 - 2 ** -25, 0x0400], // largest-subnormal tie rounds up into the normals
      [-0, 0x8000],
      [1e-30, 0x0000],
    ];
    for (const [x, bits] of cases) expect(numberToF16Bits(x), `${x}`).toBe(bits);
    expect(numberToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(numberToF16Bits(NaN) & 0x3ff).not.toBe(0);
  });

  it('F16: a random float32 goes to a nearest half (property, checked against both neighbours)', () => {
    const rng = new Rng(7);
    const buf = new Float32Array(1);
    const u = new Uint32Array(buf.buffer);
    for (let i = 0; i < 20000; i++) {
      // Exponents around the half range, random mantissas and signs.
      u[0] = ((rng.nextUint32() & 0x807fffff) | (rng.randint(100, 145) << 23)) >>> 0;
      const x = buf[0]!;
      const h = numberToF16Bits(x);
      const v = f16BitsToNumber(h);
      if (!Number.isFinite(v)) {
        expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
        continue;
      }
      const err = Math.abs(v - x);
      for (const nb of [h - 1, h + 1]) {
        if ((nb & 0x7fff) > 0x7bff || (nb & 0x7fff) === 0x7fff) continue;
        const alt = Math.abs(f16BitsToNumber(nb & 0xffff) - x);
        expect(err <= alt, `x=${x} h=${h}`).toBe(true);
        if (err === alt) expect(h & 1, `tie at ${x} must pick the even pattern`).toBe(0);
      }
    }
  });

  it('BF16: ties to even, infinities, NaN, exact decode', () => {
    expect(numberToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(numberToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(numberToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(numberToBf16Bits(3.4e38)).toBe(0x7f80); // rounds past the largest finite
    expect(numberToBf16Bits(-0)).toBe(0x8000);
    expect(Number.isNaN(bf16BitsToNumber(numberToBf16Bits(NaN)))).toBe(true);
    for (let h = 0; h < 65536; h++) {
      const v = bf16BitsToNumber(h);
      if (!Number.isNaN(v) && numberToBf16Bits(v) !== h) throw new Error(`bf16 0x${h.toString(16)}`);
    }
  });
});

describe('safetensors writer', () => {
  it('writes the layout of the Python library: sorted keys, space padding, aligned packed data', () => {
    const bytes = serializeSafetensors(
      {
        b: { dtype: 'F16', shape: [3], data: [1, 2, 3] },
        a: { dtype: 'I64', shape: [2], data: [1, -2] },
        '10': { dtype: 'BOOL', shape: [], data: [true] },
        c: { dtype: 'BF16', shape: [2, 1], data: [0.1, -3] },
      },
      { x: 'y', a: 'b' },
    );
    const n = new DataView(bytes.buffer).getUint32(0, true);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header).toBe(
      '{"__metadata__":{"a":"b","x":"y"},' +
        '"10":{"dtype":"BOOL","shape":[],"data_offsets":[26,27]},' +
        '"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
        '"b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},' +
        '"c":{"dtype":"BF16","shape":[2,1],"data_offsets":[22,26]}}' +
        ' '.repeat(7),
    );
    expect((8 + n) % 8).toBe(0);
    expect(Array.from(bytes.subarray(8 + n))).toEqual([
      1, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // I64 1, -2
      0x00, 0x3c, 0x00, 0x40, 0x00, 0x42, // F16 1, 2, 3
      0xcd, 0x3d, 0x40, 0xc0, // BF16 0.1 (0x3dcd, rounded), -3 (0xc040)
      1, // BOOL
    ]);
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(0);
  });

  it('round-trips every dtype through the reader', () => {
    const data = {
      f32: { dtype: 'F32' as const, shape: [2, 2], data: new Float32Array([1.25, -0, Infinity, 3e-40]) },
      f16: { dtype: 'F16' as const, shape: [3], data: [2 ** -24, -65504, 0.5] },
      bf16: { dtype: 'BF16' as const, shape: [2], data: [2 ** -133, -1.5] },
      i64: { dtype: 'I64' as const, shape: [3], data: new BigInt64Array([-(2n ** 63n), 5n, 2n ** 62n]) },
      i32: { dtype: 'I32' as const, shape: [1, 2], data: new Int32Array([-2147483648, 2147483647]) },
      bool: { dtype: 'BOOL' as const, shape: [3], data: [true, false, 1] },
      u8: { dtype: 'U8' as const, shape: [2], data: new Uint8Array([0, 255]) },
      raw: { dtype: 'F16' as const, shape: [1], bytes: new Uint8Array([0x00, 0x3c]) },
    };
    const f = parseSafetensors(serializeSafetensors(data));
    expect(f32bits(f.float32('f32'))).toEqual(f32bits(data.f32.data));
    expect(Array.from(f.float32('f16'))).toEqual([2 ** -24, -65504, 0.5]);
    expect(Array.from(f.float32('bf16'))).toEqual([2 ** -133, -1.5]);
    expect(Array.from(f.bigint64('i64'))).toEqual([-(2n ** 63n), 5n, 2n ** 62n]);
    expect(Array.from(f.int32('i32'))).toEqual([-2147483648, 2147483647]);
    expect(Array.from(f.decode('bool') as Uint8Array)).toEqual([1, 0, 1]);
    expect(Array.from(f.decode('u8') as Uint8Array)).toEqual([0, 255]);
    expect(Array.from(f.float32('raw'))).toEqual([1]);
    // Every tensor starts at a multiple of its element size.
    for (const name of f.names()) expect(f.info(name).dataOffsets[0] % DTYPE_SIZES[f.info(name).dtype]).toBe(0);
  });

  it('writes tf tensors (float32 -> F32 or floatDtype, int32 -> I64 or I32, bool -> BOOL)', () => {
    const m = new Map<string, tf.Tensor>([
      ['w', tf.tensor2d([[1, 2.5]])],
      ['idx', tf.tensor1d([3, -4], 'int32')],
      ['mask', tf.tensor1d([true, false], 'bool')],
    ]);
    const f = parseSafetensors(serializeSafetensors(m, {}, { floatDtype: 'F16' }));
    expect(f.info('w')).toMatchObject({ dtype: 'F16', shape: [1, 2] });
    expect(f.info('idx').dtype).toBe('I64');
    expect(f.info('mask').dtype).toBe('BOOL');
    expect(Array.from(f.float32('w'))).toEqual([1, 2.5]);
    expect(Array.from(f.int32('idx'))).toEqual([3, -4]);
    expect(parseSafetensors(serializeSafetensors(m, {}, { intDtype: 'I32' })).info('idx').dtype).toBe('I32');
    tf.dispose([...m.values()]);
  });

  it('rejects bad input, naming the tensor, the value and what was expected', () => {
    const s = (e: Record<string, unknown>, meta?: Record<string, unknown>): Uint8Array =>
      serializeSafetensors(e as never, meta as never);
    expect(() => s({ t: { dtype: 'F32', shape: [3], data: [1, 2] } })).toThrow(
      /tensor 't': data has 2 values, but shape \[3\] needs 3/,
    );
    expect(() => s({ t: { dtype: 'I32', shape: [1], data: [2 ** 31] } })).toThrow(
      /tensor 't': value number 2147483648 at element 0 is not an int32 \(dtype I32\)/,
    );
    expect(() => s({ t: { dtype: 'I64', shape: [1], data: [0.5] } })).toThrow(/value number 0.5 at element 0 is not an integer/);
    expect(() => s({ t: { dtype: 'BOOL', shape: [1], data: [2] } })).toThrow(/value number 2 at element 0 is not a boolean or 0\/1/);
    expect(() => s({ t: { dtype: 'U8', shape: [1], data: [256] } })).toThrow(/not an integer in 0..255/);
    expect(() => s({ t: { dtype: 'F128' as 'F64', shape: [1], data: [1] } })).toThrow(/tensor 't': unknown dtype string "F128"/);
    expect(() => s({ t: { dtype: 'F8_E4M3', shape: [1], data: [1] } })).toThrow(/encoding values as F8_E4M3 is not supported/);
    expect(() => s({ t: { dtype: 'I8', shape: [1], data: [128] } })).toThrow(/value number 128 at element 0 is not an integer in -128..127 \(dtype I8\)/);
    expect(() => s({ t: { dtype: 'U64', shape: [1], data: [-1] } })).toThrow(/is not a non-negative 64-bit integer/);
    expect(() => s({ t: { dtype: 'F32', shape: [-1], data: [] } })).toThrow(/tensor 't': shape must be an array of non-negative integers/);
    expect(() => s({ t: { dtype: 'F32', shape: [2], bytes: new Uint8Array(4) } })).toThrow(/bytes must be a Uint8Array of 8 bytes/);
    expect(() => s({ __metadata__: { dtype: 'F32', shape: [], data: [1] } })).toThrow(/'__metadata__' is reserved/);
    expect(() => s({}, { seed: 1 })).toThrow(/metadata 'seed' must be a string, got number 1/);
    expect(() => serializeSafetensors({}, {}, { floatDtype: 'F64' as 'F32' })).toThrow(/floatDtype must be F32, F16 or BF16, got 'F64'/);
  });
});

describe('conformance dtypes.safetensors (tests/conformance/cases)', () => {
  it('decodes F16, BF16 and F32 exactly (bit patterns)', () => {
    const f = parseSafetensors(readFileSync(caseFile('dtypes')));
    const want = f.float32('expect.values');
    expect(f.info('input.f16').dtype).toBe('F16');
    expect(f.info('input.bf16').dtype).toBe('BF16');
    for (const name of ['input.f32', 'input.f16', 'input.bf16']) {
      const got = f.float32(name);
      expect(got.length).toBe(want.length);
      expect(f32bits(got), name).toEqual(f32bits(want));
      want.forEach((w, i) => expect(Object.is(got[i], w), `${name}[${i}]`).toBe(true));
    }
    // The file really exercises what it claims to.
    const vals = Array.from(want);
    expect(vals.some((v) => Object.is(v, -0))).toBe(true);
    expect(vals).toContain(2 ** -24);
    expect(vals).toContain(-3 * 2 ** -20);
    expect(vals).toContain(-65280);
  });
});

describe('Node file helpers', () => {
  it('write then read a file; read errors name the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mimkit-io-'));
    try {
      const path = join(dir, 'w.safetensors');
      const bytes = await writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [2], data: [1, -1] } }, { format: 'pt' });
      expect(readFileSync(path)).toEqual(Buffer.from(bytes));
      const f = await readSafetensorsFile(path);
      expect(f.metadata).toEqual({ format: 'pt' });
      expect(Array.from(f.float32('w'))).toEqual([1, -1]);
      const bad = join(dir, 'bad.safetensors');
      await writeSafetensorsFile(bad, {});
      const { writeFileSync } = await import('node:fs');
      writeFileSync(bad, new Uint8Array(3));
      await expect(readSafetensorsFile(bad)).rejects.toThrow(/bad\.safetensors: safetensors: file is 3 bytes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
