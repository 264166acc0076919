/**
 * A dependency-free PNG encoder (8-bit grayscale, gray+alpha, RGB, RGBA), in
 * plain TypeScript so it runs in a browser and in Node alike: reconstructions
 * and attention maps can be saved without canvas or zlib.
 *
 * The image data is deflated (RFC 1951) either with fixed-Huffman blocks and
 * a small LZ77 matcher (default; typically 2-5x smaller than raw for MNIST-like
 * images) or with stored (uncompressed) blocks, wrapped in a zlib stream
 * (RFC 1950, Adler-32), in PNG chunks with CRC-32 (PNG spec, ISO 15948).
 */

/** An 8-bit image, rows top to bottom, channels interleaved. */
export interface PngImage {
  /** Width in pixels (>= 1). */
  width: number;
  /** Height in pixels (>= 1). */
  height: number;
  /** 1 = grayscale, 2 = gray + alpha, 3 = RGB, 4 = RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** `height * width * channels` bytes, row-major, channels interleaved. */
  data: Uint8Array | Uint8ClampedArray;
}

/** Options of {@link encodePng}. */
export interface PngOptions {
  /**
   * `'fixed'` (default): LZ77 + fixed-Huffman deflate, a good size for little
   * code. `'none'`: stored deflate blocks, fastest, about the raw size.
   */
  compression?: 'fixed' | 'none';
}

const PNG_SIGNATURE = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, polynomial 0xEDB88320) as PNG chunks use it; `crc` continues a running value. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!(bytes instanceof Uint8Array)) throw new Error(`crc32: bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Adler-32 checksum of a zlib stream (RFC 1950). */
export function adler32(bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array)) throw new Error(`adler32: bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  let a = 1;
  let b = 0;
  const MOD = 65521;
  // Reduce every 5552 bytes (zlib's NMAX) so the sums stay small integers.
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(i + 5552, bytes.length);
    for (; i < end; i++) {
      a += bytes[i]!;
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/** Appends bits LSB-first, as deflate packs them. */
class BitWriter {
  private buf: Uint8Array;
  private pos = 0;
  private bitBuf = 0;
  private bitCount = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(64, capacity));
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + extra));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Writes the `n` (<= 24) low bits of `value`, least significant first. */
  bits(value: number, n: number): void {
    this.bitBuf |= value << this.bitCount;
    this.bitCount += n;
    this.ensure(4);
    while (this.bitCount >= 8) {
      this.buf[this.pos++] = this.bitBuf & 0xff;
      this.bitBuf >>>= 8;
      this.bitCount -= 8;
    }
  }

  /** Writes a Huffman code of `n` bits, most significant bit first. */
  code(code: number, n: number): void {
    let rev = 0;
    for (let i = 0; i < n; i++) rev |= ((code >>> i) & 1) << (n - 1 - i);
    this.bits(rev, n);
  }

  /** Pads to a byte boundary. */
  align(): void {
    if (this.bitCount > 0) this.bits(0, 8 - this.bitCount);
  }

  bytes(data: Uint8Array): void {
    this.align();
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  finish(): Uint8Array {
    this.align();
    return this.buf.slice(0, this.pos);
  }
}

// Deflate's length and distance tables (RFC 1951, 3.2.5).
const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

/** Fixed-Huffman literal/length code (RFC 1951, 3.2.6). */
function writeLitLen(w: BitWriter, sym: number): void {
  if (sym < 144) w.code(0x30 + sym, 8);
  else if (sym < 256) w.code(0x190 + sym - 144, 9);
  else if (sym < 280) w.code(sym - 256, 7);
  else w.code(0xc0 + sym - 280, 8);
}

function upperBound(table: number[], v: number): number {
  // Index of the last entry <= v.
  let i = table.length - 1;
  while (table[i]! > v) i--;
  return i;
}

const WINDOW = 32768;
const MAX_MATCH = 258;
const MIN_MATCH = 3;
const MAX_CHAIN = 64;

/** Deflate with one fixed-Huffman block and a hash-chain LZ77 matcher. */
function deflateFixed(data: Uint8Array): Uint8Array {
  const w = new BitWriter(data.length / 2 + 64);
  w.bits(1, 1); // BFINAL
  w.bits(1, 2); // BTYPE = 01, fixed Huffman
  const HASH_SIZE = 1 << 15;
  const head = new Int32Array(HASH_SIZE).fill(-1);
  const prev = new Int32Array(WINDOW).fill(-1);
  const hashAt = (i: number): number =>
    (((data[i]! << 10) ^ (data[i + 1]! << 5) ^ data[i + 2]!) * 2654435761) >>> 17;
  const insert = (i: number): void => {
    if (i + MIN_MATCH > data.length) return;
    const h = hashAt(i);
    prev[i & (WINDOW - 1)] = head[h]!;
    head[h] = i;
  };
  let i = 0;
  while (i < data.length) {
    let bestLen = 0;
    let bestDist = 0;
    if (i + MIN_MATCH <= data.length) {
      let cand = head[hashAt(i)]!;
      const maxLen = Math.min(MAX_MATCH, data.length - i);
      for (let chain = 0; cand >= 0 && i - cand <= WINDOW && chain < MAX_CHAIN; chain++) {
        let len = 0;
        while (len < maxLen && data[cand + len] === data[i + len]) len++;
        if (len > bestLen) {
          bestLen = len;
          bestDist = i - cand;
          if (len === maxLen) break;
        }
        const next = prev[cand & (WINDOW - 1)]!;
        if (next >= cand) break; // stale entry from an overwritten window slot
        cand = next;
      }
    }
    if (bestLen >= MIN_MATCH) {
      const li = upperBound(LEN_BASE, bestLen);
      writeLitLen(w, 257 + li);
      if (LEN_EXTRA[li]! > 0) w.bits(bestLen - LEN_BASE[li]!, LEN_EXTRA[li]!);
      const di = upperBound(DIST_BASE, bestDist);
      w.code(di, 5);
      if (DIST_EXTRA[di]! > 0) w.bits(bestDist - DIST_BASE[di]!, DIST_EXTRA[di]!);
      for (let k = 0; k < bestLen; k++) insert(i + k);
      i += bestLen;
    } else {
      writeLitLen(w, data[i]!);
      insert(i);
      i++;
    }
  }
  writeLitLen(w, 256); // end of block
  return w.finish();
}

/** Deflate with stored (uncompressed) blocks of at most 65535 bytes. */
function deflateStored(data: Uint8Array): Uint8Array {
  const w = new BitWriter(data.length + 5 * Math.ceil(data.length / 65535) + 8);
  let pos = 0;
  do {
    const len = Math.min(65535, data.length - pos);
    const final = pos + len >= data.length ? 1 : 0;
    w.bits(final, 1);
    w.bits(0, 2); // BTYPE = 00, stored
    w.align();
    w.bits(len & 0xffff, 16);
    w.bits(~len & 0xffff, 16);
    w.bytes(data.subarray(pos, pos + len));
    pos += len;
  } while (pos < data.length);
  return w.finish();
}

/**
 * A zlib stream (RFC 1950) of `data`: header `78 01`, deflate body, Adler-32.
 * Exported for tests and for other formats that need a zlib payload.
 */
export function zlibCompress(data: Uint8Array, compression: 'fixed' | 'none' = 'fixed'): Uint8Array {
  const body = compression === 'none' ? deflateStored(data) : deflateFixed(data);
  const out = new Uint8Array(2 + body.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // no dictionary, fastest level; (0x78 * 256 + 0x01) % 31 === 0
  out.set(body, 2);
  new DataView(out.buffer).setUint32(2 + body.length, adler32(data), false);
  return out;
}

/**
 * PNG row filters (PNG spec 9.2): each row uses the filter (None, Sub, Up,
 * Average, Paeth) with the smallest sum of absolute signed residuals, the
 * usual heuristic; it lets deflate find the runs in smooth images.
 */
function filterRows(data: Uint8Array | Uint8ClampedArray, width: number, height: number, bpp: number): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(height * (stride + 1));
  const cand = [0, 1, 2, 3, 4].map(() => new Uint8Array(stride));
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const up = row - stride;
    let best = 0;
    let bestScore = Infinity;
    for (let f = 0; f < 5; f++) {
      const c = cand[f]!;
      let score = 0;
      for (let x = 0; x < stride; x++) {
        const cur = data[row + x]!;
        const a = x >= bpp ? data[row + x - bpp]! : 0;
        const b = y > 0 ? data[up + x]! : 0;
        const d = x >= bpp && y > 0 ? data[up + x - bpp]! : 0;
        let pred = 0;
        if (f === 1) pred = a;
        else if (f === 2) pred = b;
        else if (f === 3) pred = (a + b) >>> 1;
        else if (f === 4) {
          const p = a + b - d;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - d);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : d;
        }
        const v = (cur - pred) & 0xff;
        c[x] = v;
        score += v < 128 ? v : 256 - v;
      }
      if (score < bestScore) {
        bestScore = score;
        best = f;
      }
    }
    out[y * (stride + 1)] = best;
    out.set(cand[best]!, y * (stride + 1) + 1);
  }
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length, false);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)), false);
  return out;
}

/**
 * Encodes an 8-bit image as a PNG file (signature, IHDR, one IDAT, IEND).
 * Works in browsers and Node (no dependency, no canvas).
 *
 * @example
 * const png = encodePng({ width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) });
 * // Node: fs.writeFileSync('out.png', png)
 */
export function encodePng(image: PngImage, options: PngOptions = {}): Uint8Array {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || width < 1 || width > 0x7fffffff) {
    throw new Error(`encodePng: width must be a positive integer, got ${width}`);
  }
  if (!Number.isInteger(height) || height < 1 || height > 0x7fffffff) {
    throw new Error(`encodePng: height must be a positive integer, got ${height}`);
  }
  if (COLOR_TYPE[channels] === undefined) {
    throw new Error(`encodePng: channels must be 1, 2, 3 or 4, got ${channels}`);
  }
  if (!(data instanceof Uint8Array) && !(data instanceof Uint8ClampedArray)) {
    throw new Error(`encodePng: data must be a Uint8Array or Uint8ClampedArray, got ${Object.prototype.toString.call(data)}`);
  }
  const expected = width * height * channels;
  if (data.length !== expected) {
    throw new Error(
      `encodePng: data has ${data.length} bytes, expected width*height*channels = ${width}*${height}*${channels} = ${expected}`,
    );
  }
  const compression = options.compression ?? 'fixed';
  if (compression !== 'fixed' && compression !== 'none') {
    throw new Error(`encodePng: compression must be 'fixed' or 'none', got '${String(compression)}'`);
  }
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width, false);
  hv.setUint32(4, height, false);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE[channels]!;
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const raw = compression === 'none' ? unfiltered(data, width, height, channels) : filterRows(data, width, height, channels);
  const parts = [PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', zlibCompress(raw, compression)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Rows with filter type 0 (None) in front. */
function unfiltered(data: Uint8Array | Uint8ClampedArray, width: number, height: number, bpp: number): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) out.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return out;
}
