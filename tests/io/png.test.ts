import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { adler32, crc32, encodePng, zlibCompress, type PngImage } from '../../src/io/png.js';
import { Rng } from '../../src/utils/random.js';

interface Chunk {
  type: string;
  data: Uint8Array;
  crc: number;
}

function readChunks(png: Uint8Array): Chunk[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    const len = view.getUint32(at, false);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    out.push({ type, data: png.subarray(at + 8, at + 8 + len), crc: view.getUint32(at + 8 + len, false) });
    at += 12 + len;
  }
  expect(at).toBe(png.length);
  return out;
}

/** An independent PNG decoder (Node's zlib for inflate, the PNG spec's unfilter). */
function decodePng(png: Uint8Array): PngImage {
  expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const chunks = readChunks(png);
  expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
  for (const c of chunks) {
    const typed = new Uint8Array(4 + c.data.length);
    for (let i = 0; i < 4; i++) typed[i] = c.type.charCodeAt(i);
    typed.set(c.data, 4);
    expect(c.crc).toBe(crc32(typed));
  }
  const ih = new DataView(chunks[0]!.data.buffer, chunks[0]!.data.byteOffset, 13);
  const width = ih.getUint32(0, false);
  const height = ih.getUint32(4, false);
  expect(chunks[0]!.data[8]).toBe(8);
  const colorType = chunks[0]!.data[9]!;
  const channels = ({ 0: 1, 4: 2, 2: 3, 6: 4 } as Record<number, 1 | 2 | 3 | 4>)[colorType]!;
  expect(Array.from(chunks[0]!.data.subarray(10))).toEqual([0, 0, 0]);
  const raw = new Uint8Array(inflateSync(chunks[1]!.data));
  const stride = width * channels;
  expect(raw.length).toBe(height * (stride + 1));
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    expect(f).toBeLessThanOrEqual(4);
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? out[y * stride + x - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels]! : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = b;
      else if (f === 3) pred = Math.floor((a + b) / 2);
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * stride + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, channels, data: out };
}

describe('crc32 / adler32', () => {
  it('match the published check values', () => {
    const ascii = new TextEncoder().encode('123456789');
    expect(crc32(ascii)).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    // CRC of an IEND chunk (type only), as in every PNG file.
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
    expect(adler32(new TextEncoder().encode('Wikipedia'))).toBe(0x11e60398);
    expect(adler32(new Uint8Array(0))).toBe(1);
  });
  it('adler32 stays exact over long inputs (modulo reduction)', () => {
    const big = new Uint8Array(100_000).fill(255);
    let a = 1;
    let b = 0;
    for (const v of big) {
      a = (a + v) % 65521;
      b = (b + a) % 65521;
    }
    expect(adler32(big)).toBe(((b << 16) | a) >>> 0);
  });
});

describe('zlibCompress', () => {
  const rng = new Rng(7);
  const inputs: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['one byte', new Uint8Array([42])],
    ['runs', new Uint8Array(70_000).map((_, i) => (i >> 9) & 3)],
    ['random', new Uint8Array(70_000).map(() => rng.randint(0, 255))],
    ['long repeats', new Uint8Array(40_000).map((_, i) => (i % 300) & 0xff)],
  ];
  for (const mode of ['fixed', 'none'] as const) {
    for (const [name, data] of inputs) {
      it(`${mode}: ${name} inflates back (node:zlib)`, () => {
        const z = zlibCompress(data, mode);
        expect(z[0]).toBe(0x78);
        expect((z[0]! * 256 + z[1]!) % 31).toBe(0);
        expect(Buffer.from(inflateSync(z)).equals(Buffer.from(data))).toBe(true);
      });
    }
  }
  it('fixed Huffman + LZ77 actually compresses repetitive data', () => {
    const data = inputs[2]![1];
    expect(zlibCompress(data, 'fixed').length).toBeLessThan(data.length / 20);
    expect(zlibCompress(data, 'none').length).toBe(data.length + 2 + 4 + 5 * 2);
  });
});

describe('encodePng', () => {
  const rng = new Rng(3);
  for (const channels of [1, 2, 3, 4] as const) {
    for (const compression of ['fixed', 'none'] as const) {
      it(`round trips ${channels} channel(s), compression ${compression}`, () => {
        const width = 13;
        const height = 7;
        const data = new Uint8Array(width * height * channels);
        for (let i = 0; i < data.length; i++) data[i] = i % 5 === 0 ? rng.randint(0, 255) : (i * 7) & 0xff;
        const png = encodePng({ width, height, channels, data }, { compression });
        const back = decodePng(png);
        expect([back.width, back.height, back.channels]).toEqual([width, height, channels]);
        expect(Array.from(back.data)).toEqual(Array.from(data));
      });
    }
  }
  it('writes the exact IHDR of a 2x1 grayscale image', () => {
    const png = encodePng({ width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) });
    const ihdr = readChunks(png)[0]!;
    expect(Array.from(ihdr.data)).toEqual([0, 0, 0, 2, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
    expect(Array.from(png.subarray(png.length - 12))).toEqual([0, 0, 0, 0, 73, 69, 78, 68, 0xae, 0x42, 0x60, 0x82]);
  });
  it('accepts Uint8ClampedArray (ImageData.data) and a large smooth image', () => {
    const width = 300;
    const height = 200;
    const data = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) data.set([x & 255, y & 255, (x + y) & 255, 255], (y * width + x) * 4);
    }
    const png = encodePng({ width, height, channels: 4, data });
    expect(png.length).toBeLessThan(data.length / 10);
    expect(Array.from(decodePng(png).data)).toEqual(Array.from(data));
  });
  it('rejects bad input, naming parameter, value and expectation', () => {
    const d = new Uint8Array(4);
    expect(() => encodePng({ width: 0, height: 1, channels: 1, data: d })).toThrow(/width must be a positive integer, got 0/);
    expect(() => encodePng({ width: 2, height: 1.5, channels: 1, data: d })).toThrow(/height must be a positive integer, got 1.5/);
    expect(() => encodePng({ width: 2, height: 2, channels: 5 as 1, data: d })).toThrow(/channels must be 1, 2, 3 or 4, got 5/);
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: d })).toThrow(/data has 4 bytes, expected .* = 12/);
    expect(() => encodePng({ width: 2, height: 2, channels: 1, data: new Float32Array(4) as unknown as Uint8Array })).toThrow(
      /data must be a Uint8Array or Uint8ClampedArray, got \[object Float32Array\]/,
    );
    expect(() => encodePng({ width: 2, height: 2, channels: 1, data: d }, { compression: 'best' as 'none' })).toThrow(
      /compression must be 'fixed' or 'none', got 'best'/,
    );
  });
});
