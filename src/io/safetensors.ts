import * as tf from '@tensorflow/tfjs-core';

/**
 * safetensors reading and writing, browser-friendly (bytes in, bytes out; no
 * file system). Format (huggingface/safetensors): an 8-byte little-endian
 * unsigned header length `n`, `n` bytes of UTF-8 JSON mapping each tensor name
 * to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the
 * data section that follows the header) plus an optional `__metadata__` object
 * of strings, then the raw little-endian tensor data.
 *
 * The reader trusts nothing: the whole header is validated before any tensor
 * data is decoded, so a corrupt or hostile file fails with an `Error` naming
 * what is wrong, and never makes the reader allocate more than the file's own
 * data implies (a decoded tensor is at most four times its stored bytes: F8
 * or U8 to 32-bit values).
 *
 * Dtypes: every whole-byte dtype of the format is read: floats `F64`, `F32`,
 * `F16`, `BF16`, `F8_E4M3`, `F8_E5M2`; integers `I64`, `I32`, `I16`, `I8`,
 * `U64`, `U32`, `U16`, `U8`; `BOOL`. tfjs computes in float32 and int32, so
 * `F64` is rounded to the nearest float32 when a float32 is asked for
 * (`float32()`, `toTensor()`, loading a weight): about 7 significant digits
 * are kept, values beyond +-3.4e38 become infinite and below ~1.4e-45 zero
 * (`decode()` keeps the float64 values). `U32`, `U64` and `I64` convert to
 * int32 only when every value fits (else an error names the value). The
 * format's sub-byte and scale types (`F4`, `F6_E2M3`, `F6_E3M2`, `F8_E8M0`)
 * are named in a clear error. Writing: every read dtype but the F8 ones.
 */

/** Element types this library reads (and, but for the F8 ones, writes). */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

/** Bytes per element of each dtype. */
export const DTYPE_SIZES: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
});

const DTYPES = Object.keys(DTYPE_SIZES) as SafetensorsDtype[];

/** Dtypes of the safetensors format that this reader names but does not decode, with why. */
const UNSUPPORTED_DTYPES: Readonly<Record<string, string>> = Object.freeze({
  F4: 'a 4-bit float (MXFP4 element, two per byte)',
  F6_E2M3: 'a 6-bit float (MXFP6 element, packed)',
  F6_E3M2: 'a 6-bit float (MXFP6 element, packed)',
  F8_E8M0: 'an 8-bit power-of-two scale (MX block scale), not a value type',
  C64: 'a complex number type',
});

function isDtype(s: string): s is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

/** The float dtypes (decoded to float32 by `float32()` and for weights). */
const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2']);

/** Whether a dtype holds floating-point values (`F64`, `F32`, `F16`, `BF16`, `F8_E4M3`, `F8_E5M2`). */
export function isFloatDtype(dtype: string): boolean {
  return FLOAT_DTYPES.has(dtype);
}

/**
 * The value of an 8-bit float bit pattern: `F8_E4M3` is OCP FP8 E4M3 "fn"
 * (bias 7, no infinities, `S.1111.111` is NaN; PyTorch's
 * `float8_e4m3fn`), `F8_E5M2` is E5M2 (bias 15, IEEE-style infinities and
 * NaNs; `float8_e5m2`). Exact in float32.
 */
export function f8BitsToNumber(bits: number, format: 'F8_E4M3' | 'F8_E5M2'): number {
  if (format !== 'F8_E4M3' && format !== 'F8_E5M2') throw new Error(`f8BitsToNumber: format must be 'F8_E4M3' or 'F8_E5M2', got ${JSON.stringify(format)}`);
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xff) throw new Error(`f8BitsToNumber: bits must be an integer in [0, 255], got ${String(bits)}`);
  const sign = bits & 0x80 ? -1 : 1;
  if (format === 'F8_E4M3') {
    const e = (bits >>> 3) & 0xf;
    const m = bits & 0x7;
    if (e === 0xf && m === 0x7) return NaN;
    if (e === 0) return sign * m * 2 ** -9;
    return sign * (8 + m) * 2 ** (e - 10);
  }
  const e = (bits >>> 2) & 0x1f;
  const m = bits & 0x3;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -16;
  return sign * (4 + m) * 2 ** (e - 17);
}

/** What the header says about one tensor (validated). */
export interface SafetensorsTensorInfo {
  /** Stored element type. */
  dtype: SafetensorsDtype;
  /** Shape; `[]` is a scalar (one element). */
  shape: number[];
  /** Stored bytes: product(shape) x element size. */
  byteLength: number;
  /** `[begin, end)` relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** Options of {@link parseSafetensors}. */
export interface ParseSafetensorsOptions {
  /**
   * How {@link SafetensorsFile.decode} returns `I64` tensors: `'int32'`
   * (default; tfjs has no int64, and indices and labels fit) converts and
   * throws if a value does not fit in int32; `'bigint'` keeps a
   * `BigInt64Array`.
   */
  int64?: 'int32' | 'bigint';
}

/**
 * A typed array holding decoded values: float32 for F32/F16/BF16/F8, float64
 * for F64, int32 for I32 (and I64 by default), BigInt64 for I64 on request,
 * the matching typed array for I8/I16/U16/U32, BigUint64 for U64, bytes for
 * BOOL/U8.
 */
export type DecodedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | BigInt64Array
  | BigUint64Array
  | Uint8Array;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(message: string): never {
  throw new Error(`safetensors: ${message}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array ${truncate(preview(v))}`;
  if (typeof v === 'string') return `string ${truncate(JSON.stringify(v.length > 100 ? v.slice(0, 100) : v))}`;
  if (typeof v === 'object') return `object ${truncate(preview(v))}`;
  return `${typeof v} ${String(v)}`;
}

/**
 * JSON-like text of `v`, bounded in depth and length (`JSON.stringify` of a
 * hostile header could overflow the stack or build a huge string only to
 * cut it to 60 characters).
 */
function preview(v: unknown, depth = 0, budget = { left: 80 }): string {
  if (budget.left <= 0) return '';
  let out: string;
  if (v === null || typeof v !== 'object') {
    out = typeof v === 'string' ? JSON.stringify(v.length > 40 ? v.slice(0, 40) : v) : String(v);
  } else if (depth >= 3) {
    out = Array.isArray(v) ? '[...]' : '{...}';
  } else if (Array.isArray(v)) {
    const parts: string[] = [];
    for (const x of v) {
      if (budget.left <= 0) break;
      parts.push(preview(x, depth + 1, budget));
    }
    out = `[${parts.join(',')}]`;
  } else {
    const parts: string[] = [];
    for (const k in v as Record<string, unknown>) {
      if (budget.left <= 0) break;
      parts.push(`${JSON.stringify(k.slice(0, 40))}:${preview((v as Record<string, unknown>)[k], depth + 1, budget)}`);
    }
    out = `{${parts.join(',')}}`;
  }
  budget.left -= out.length;
  return out;
}

/**
 * Limits of {@link parseSafetensors}, checked before the header is parsed:
 * - `maxHeaderBytes`: 100,000,000, the Rust reader's own limit;
 * - `maxEntries`: 100,000 tensors (large LLM checkpoints have a few
 *   thousand per file; a 1,000,000-entry header took 24 s and 1 GB);
 * - `maxNesting`: 8 levels of `{`/`[` (a valid header needs 3:
 *   header -> entry -> shape), so a deeply nested header cannot exhaust the
 *   stack.
 */
export const SAFETENSORS_LIMITS = { maxHeaderBytes: 100_000_000, maxEntries: 100_000, maxNesting: 8 } as const;

/**
 * One pass over the header bytes, outside strings: the deepest nesting and
 * the number of top-level members. Throws as soon as a limit is passed.
 * Runs on the raw bytes, before UTF-8 decoding (structural characters are
 * ASCII, and no byte of a multi-byte UTF-8 sequence is below 0x80).
 */
function scanHeader(text: Uint8Array): void {
  let depth = 0;
  let members = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > SAFETENSORS_LIMITS.maxNesting) {
        fail(`header nests deeper than ${SAFETENSORS_LIMITS.maxNesting} levels (a valid header needs 3); refused before parsing`);
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && depth === 1) {
      // members + 1 top-level keys; one may be __metadata__.
      if (++members > SAFETENSORS_LIMITS.maxEntries) {
        fail(`header has more than ${SAFETENSORS_LIMITS.maxEntries} entries (the reader's limit); refused before parsing`);
      }
    }
  }
}

function truncate(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

// ---------------------------------------------------------------------------
// Half-precision conversions (exact decode, round-to-nearest-even encode).
// ---------------------------------------------------------------------------

let f16Table: Float32Array | null = null;

/** float32 value of every F16 bit pattern, built once (256 KiB). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToNumber(h);
  f16Table = t;
  return t;
}

/**
 * The value of an IEEE 754 binary16 bit pattern (exact: every half value is a
 * float32 value). Subnormals are `m * 2^-24`; the sign of zero is kept.
 */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * The binary16 bit pattern nearest to a number (first rounded to float32),
 * ties to even, overflow to infinity, sign of zero kept, NaN stays NaN (the
 * same result as NumPy's `astype(float16)` and PyTorch's `.half()`).
 */
export function numberToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const f = u32Scratch[0]!;
  const sign = (f >>> 16) & 0x8000;
  const fExp = f & 0x7f800000;
  if (fExp >= 0x47800000) {
    if (fExp === 0x7f800000 && (f & 0x7fffff) !== 0) {
      // NaN: keep the top payload bits, but make sure it stays a NaN.
      const ret = 0x7c00 + ((f & 0x7fffff) >>> 13);
      return sign + (ret === 0x7c00 ? 0x7c01 : ret);
    }
    return sign + 0x7c00;
  }
  if (fExp <= 0x38000000) {
    // Result is subnormal or zero.
    if (fExp < 0x33000000) return sign;
    const e = fExp >>> 23;
    let sig = (0x800000 + (f & 0x7fffff)) >>> (113 - e);
    // Round half to even; the shift may have dropped up to 11 low bits, so
    // a tie is only a tie when those were zero too.
    if ((sig & 0x3fff) !== 0x1000 || (f & 0x7ff) !== 0) sig += 0x1000;
    return sign + (sig >>> 13);
  }
  const hExp = (fExp - 0x38000000) >>> 13;
  let sig = f & 0x7fffff;
  if ((sig & 0x3fff) !== 0x1000) sig += 0x1000;
  // A carry out of the significand bumps the exponent (possibly to infinity).
  return sign + hExp + (sig >>> 13);
}

/** The float32 value of a bfloat16 bit pattern (exact). */
export function bf16BitsToNumber(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0]!;
}

/**
 * The bfloat16 bit pattern nearest to a number (first rounded to float32),
 * ties to even, NaN stays a (quiet) NaN, as PyTorch's `.bfloat16()` does.
 */
export function numberToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const f = u32Scratch[0]!;
  if ((f & 0x7f800000) === 0x7f800000 && (f & 0x7fffff) !== 0) return ((f >>> 16) | 0x40) & 0xffff;
  return ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---------------------------------------------------------------------------
// Reader.
// ---------------------------------------------------------------------------

/**
 * A parsed, validated safetensors file. Tensors are decoded on request
 * (each call returns a new array that the caller owns); the file keeps a
 * reference to the input bytes, so do not modify them while using it.
 */
export class SafetensorsFile {
  /** `__metadata__` (empty when the file has none). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Total size of the file in bytes. */
  readonly byteLength: number;
  private readonly entries: Map<string, SafetensorsTensorInfo>;
  private readonly data: Uint8Array;
  private readonly int64Mode: 'int32' | 'bigint';

  /** @internal Use {@link parseSafetensors}. */
  constructor(
    bytes: Uint8Array,
    dataStart: number,
    entries: Map<string, SafetensorsTensorInfo>,
    metadata: Record<string, string>,
    options: ParseSafetensorsOptions,
  ) {
    this.byteLength = bytes.byteLength;
    this.data = bytes.subarray(dataStart);
    this.entries = entries;
    this.metadata = Object.freeze({ ...metadata });
    this.int64Mode = options.int64 ?? 'int32';
  }

  /** Tensor names, sorted (as the format's writers order them). */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Whether the file holds a tensor of that name. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Dtype, shape and stored size of a tensor; throws for an unknown name. */
  info(name: string): SafetensorsTensorInfo {
    const e = this.get(name);
    return { dtype: e.dtype, shape: [...e.shape], byteLength: e.byteLength, dataOffsets: [...e.dataOffsets] };
  }

  /** The stored bytes of a tensor (a view into the file, not a copy). */
  raw(name: string): Uint8Array {
    const e = this.get(name);
    return this.data.subarray(e.dataOffsets[0], e.dataOffsets[1]);
  }

  /**
   * A float tensor as float32 values: F16, BF16 and F8 decoded exactly, F64
   * rounded to the nearest float32 (see the module notes on precision).
   */
  float32(name: string): Float32Array {
    const e = this.get(name);
    const bytes = this.raw(name);
    const n = e.byteLength / DTYPE_SIZES[e.dtype];
    switch (e.dtype) {
      case 'F32': {
        if (LITTLE_ENDIAN_HOST) return new Float32Array(bytes.slice().buffer);
        const dv = view(bytes);
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
        return out;
      }
      case 'F16': {
        const table = halfTable();
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
        return out;
      }
      case 'BF16': {
        const bits = new Uint32Array(n);
        for (let i = 0; i < n; i++) bits[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
        return new Float32Array(bits.buffer);
      }
      case 'F64':
        return Float32Array.from(this.float64(name));
      case 'F8_E4M3':
      case 'F8_E5M2': {
        const table = new Float32Array(256);
        for (let b = 0; b < 256; b++) table[b] = f8BitsToNumber(b, e.dtype);
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = table[bytes[i]!]!;
        return out;
      }
      default:
        return fail(`tensor '${name}': float32() needs a float dtype (F64, F32, F16, BF16, F8_E4M3, F8_E5M2), but it is ${e.dtype}`);
    }
  }

  /** An F64 tensor as float64 values (lossless); other float dtypes widened exactly. */
  float64(name: string): Float64Array {
    const e = this.get(name);
    if (e.dtype !== 'F64') {
      if (FLOAT_DTYPES.has(e.dtype)) return Float64Array.from(this.float32(name));
      return fail(`tensor '${name}': float64() needs a float dtype, but it is ${e.dtype}`);
    }
    const bytes = this.raw(name);
    const n = e.byteLength / 8;
    if (LITTLE_ENDIAN_HOST) return new Float64Array(bytes.slice().buffer);
    const dv = view(bytes);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
    return out;
  }

  /**
   * An integer or boolean tensor as int32: I32 as is, I64, U32 and U64 when
   * every value fits (throws naming the tensor and the first value that does
   * not), I16, I8, U16, U8 and BOOL widened.
   */
  int32(name: string): Int32Array {
    const e = this.get(name);
    const bytes = this.raw(name);
    const n = e.byteLength / DTYPE_SIZES[e.dtype];
    const out = new Int32Array(n);
    switch (e.dtype) {
      case 'I32': {
        const dv = view(bytes);
        for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
        return out;
      }
      case 'I64': {
        const dv = view(bytes);
        for (let i = 0; i < n; i++) {
          const lo = dv.getInt32(i * 8, true);
          const hi = dv.getInt32(i * 8 + 4, true);
          if (hi !== lo >> 31) {
            fail(
              `tensor '${name}': I64 value ${dv.getBigInt64(i * 8, true)} at element ${i} does not fit in int32 ` +
                `(read it with bigint64() or parse with { int64: 'bigint' })`,
            );
          }
          out[i] = lo;
        }
        return out;
      }
      case 'BOOL':
        checkBool(name, bytes);
        out.set(bytes);
        return out;
      case 'U8':
        out.set(bytes);
        return out;
      case 'I8':
        out.set(new Int8Array(bytes.buffer, bytes.byteOffset, n));
        return out;
      case 'I16': {
        const dv = view(bytes);
        for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
        return out;
      }
      case 'U16': {
        const dv = view(bytes);
        for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
        return out;
      }
      case 'U32': {
        const dv = view(bytes);
        for (let i = 0; i < n; i++) {
          const v = dv.getUint32(i * 4, true);
          if (v > 0x7fffffff) fail(`tensor '${name}': U32 value ${v} at element ${i} does not fit in int32`);
          out[i] = v;
        }
        return out;
      }
      case 'U64': {
        const dv = view(bytes);
        for (let i = 0; i < n; i++) {
          const lo = dv.getUint32(i * 8, true);
          const hi = dv.getUint32(i * 8 + 4, true);
          if (hi !== 0 || lo > 0x7fffffff) {
            fail(`tensor '${name}': U64 value ${dv.getBigUint64(i * 8, true)} at element ${i} does not fit in int32 (read it with decode())`);
          }
          out[i] = lo;
        }
        return out;
      }
      default:
        return fail(`tensor '${name}': int32() needs an integer or BOOL dtype (I64, I32, I16, I8, U64, U32, U16, U8, BOOL), but it is ${e.dtype}`);
    }
  }

  /** An integer or boolean tensor as BigInt64 values (lossless for I64). */
  bigint64(name: string): BigInt64Array {
    const e = this.get(name);
    const bytes = this.raw(name);
    const n = e.byteLength / DTYPE_SIZES[e.dtype];
    if (e.dtype === 'I64') {
      const dv = view(bytes);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getBigInt64(i * 8, true);
      return out;
    }
    if (e.dtype === 'U32') {
      const dv = view(bytes);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(dv.getUint32(i * 4, true));
      return out;
    }
    if (e.dtype === 'U64') {
      const dv = view(bytes);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigUint64(i * 8, true);
        if (v >= 2n ** 63n) fail(`tensor '${name}': U64 value ${v} at element ${i} does not fit in int64 (read it with decode())`);
        out[i] = v;
      }
      return out;
    }
    if (['I32', 'I16', 'I8', 'U16', 'BOOL', 'U8'].includes(e.dtype)) {
      const ints = this.int32(name);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(ints[i]!);
      return out;
    }
    return fail(`tensor '${name}': bigint64() needs an integer or BOOL dtype, but it is ${e.dtype}`);
  }

  /**
   * A tensor decoded to its natural array, losslessly: Float32Array
   * (F32/F16/BF16/F8), Float64Array (F64), Int32Array (I32; I64 unless parsed
   * with `int64: 'bigint'`), BigInt64Array (I64 with `int64: 'bigint'`),
   * Int16Array, Int8Array, Uint16Array, Uint32Array, BigUint64Array (U64),
   * Uint8Array (BOOL as 0/1, U8).
   */
  decode(name: string): DecodedArray {
    const e = this.get(name);
    const n = e.byteLength / DTYPE_SIZES[e.dtype];
    switch (e.dtype) {
      case 'F32':
      case 'F16':
      case 'BF16':
      case 'F8_E4M3':
      case 'F8_E5M2':
        return this.float32(name);
      case 'F64':
        return this.float64(name);
      case 'I16':
        return Int16Array.from(this.int32(name));
      case 'I8':
        return Int8Array.from(this.int32(name));
      case 'U16':
        return Uint16Array.from(this.int32(name));
      case 'U32': {
        const dv = view(this.raw(name));
        const out = new Uint32Array(n);
        for (let i = 0; i < n; i++) out[i] = dv.getUint32(i * 4, true);
        return out;
      }
      case 'U64': {
        const dv = view(this.raw(name));
        const out = new BigUint64Array(n);
        for (let i = 0; i < n; i++) out[i] = dv.getBigUint64(i * 8, true);
        return out;
      }
      case 'I64':
        return this.int64Mode === 'bigint' ? this.bigint64(name) : this.int32(name);
      case 'I32':
        return this.int32(name);
      case 'BOOL': {
        const bytes = this.raw(name);
        checkBool(name, bytes);
        return bytes.slice();
      }
      case 'U8':
        return this.raw(name).slice();
    }
  }

  /**
   * A tensor as a new tf tensor (the caller disposes it): float dtypes ->
   * float32 (F64 rounded), integer dtypes -> int32 (I64, U32, U64 must fit),
   * BOOL -> bool.
   */
  toTensor(name: string): tf.Tensor {
    const e = this.get(name);
    if (FLOAT_DTYPES.has(e.dtype)) return tf.tensor(this.float32(name), e.shape, 'float32');
    switch (e.dtype) {
      case 'BOOL':
        return tf.tensor(this.int32(name), e.shape, 'bool');
      default:
        return tf.tensor(this.int32(name), e.shape, 'int32');
    }
  }

  private get(name: string): SafetensorsTensorInfo {
    const e = this.entries.get(name);
    if (!e) {
      const known = this.names();
      const list = known.length > 8 ? `${known.slice(0, 8).join(', ')}, ...` : known.join(', ');
      return fail(`no tensor named '${name}' (the file has ${known.length}: ${list})`);
    }
    return e;
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkBool(name: string, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! > 1) fail(`tensor '${name}': BOOL byte ${bytes[i]} at element ${i} is not 0 or 1`);
  }
}

/**
 * Parses and validates a safetensors file. Everything in the header is
 * checked before any tensor data is touched: file shorter than 8 bytes,
 * header length beyond the file, header not UTF-8 JSON or not an object,
 * entries missing `dtype`/`shape`/`data_offsets` or of the wrong types,
 * unknown dtypes, shape entries that are not non-negative integers, offsets
 * that are not integers, reversed or outside the data section, byte lengths
 * that differ from product(shape) x element size, overlapping tensors, and
 * `__metadata__` values that are not strings. Each throws its own `Error`
 * (message prefixed `safetensors:`) naming the tensor and the problem.
 *
 * Sizes are bounded by {@link SAFETENSORS_LIMITS} (header bytes, entries,
 * nesting), checked before `JSON.parse`, so a hostile header fails fast
 * with a message instead of a stack overflow or minutes of parsing.
 *
 * Gaps between tensors and trailing bytes are accepted (the Rust reader is
 * stricter); a tensor's data need not be aligned.
 *
 * @param bytes the whole file (a Node `Buffer` is a `Uint8Array` too).
 */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer, options: ParseSafetensorsOptions = {}): SafetensorsFile {
  // A plain Uint8Array view: a Node Buffer's slice() would not copy.
  const file =
    bytes instanceof Uint8Array
      ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      : bytes instanceof ArrayBuffer
        ? new Uint8Array(bytes)
        : null;
  if (!file) fail(`input must be a Uint8Array or ArrayBuffer, got ${describe(bytes)}`);
  if (options.int64 !== undefined && options.int64 !== 'int32' && options.int64 !== 'bigint') {
    fail(`options.int64 must be 'int32' or 'bigint', got ${describe(options.int64)}`);
  }
  if (file.byteLength < 8) fail(`file is ${file.byteLength} bytes, shorter than the 8-byte header length`);
  const dv = view(file);
  const lenLo = dv.getUint32(0, true);
  const lenHi = dv.getUint32(4, true);
  const available = file.byteLength - 8;
  const headerLen = lenHi * 2 ** 32 + lenLo;
  if (lenHi !== 0 || headerLen > available) {
    fail(`header length ${headerLen} exceeds the ${available} bytes after the length field (file is ${file.byteLength} bytes)`);
  }
  if (headerLen > SAFETENSORS_LIMITS.maxHeaderBytes) {
    fail(`header length ${headerLen} exceeds the reader's limit of ${SAFETENSORS_LIMITS.maxHeaderBytes} bytes`);
  }
  scanHeader(file.subarray(8, 8 + headerLen));
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + headerLen));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(`header must be a JSON object, got ${describe(header)}`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = file.byteLength - dataStart;
  const entries = new Map<string, SafetensorsTensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = validateMetadata(raw);
      continue;
    }
    entries.set(name, validateEntry(name, raw, dataLen));
  }
  // Overlap: sort by start; each non-empty tensor must start at or after the
  // end of the previous non-empty one.
  const spans = [...entries.entries()]
    .filter(([, e]) => e.byteLength > 0)
    .sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  for (let i = 1; i < spans.length; i++) {
    const [pn, pe] = spans[i - 1]!;
    const [cn, ce] = spans[i]!;
    if (ce.dataOffsets[0] < pe.dataOffsets[1]) {
      fail(
        `tensors '${pn}' [${pe.dataOffsets.join(', ')}] and '${cn}' [${ce.dataOffsets.join(', ')}] overlap in the data section`,
      );
    }
  }
  return new SafetensorsFile(file, dataStart, entries, metadata, options);
}

function validateMetadata(raw: unknown): Record<string, string> {
  if (raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    fail(`__metadata__ must be an object of strings, got ${describe(raw)}`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__ '${k}' must be a string, got ${describe(v)}`);
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: false, configurable: false });
  }
  return out;
}

function validateEntry(name: string, raw: unknown, dataLen: number): SafetensorsTensorInfo {
  const where = `tensor '${name}'`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(`${where}: entry must be an object with dtype, shape and data_offsets, got ${describe(raw)}`);
  }
  const r = raw as Record<string, unknown>;
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.prototype.hasOwnProperty.call(r, key)) fail(`${where}: entry has no '${key}'`);
  }
  const dtype = r['dtype'];
  if (typeof dtype !== 'string') fail(`${where}: dtype must be a string, got ${describe(dtype)}`);
  if (!isDtype(dtype)) {
    const why = UNSUPPORTED_DTYPES[dtype];
    if (why !== undefined) fail(`${where}: dtype '${dtype}' (${why}) is not supported by this reader (supported: ${DTYPES.join(', ')})`);
    fail(`${where}: unknown dtype '${truncate(dtype)}' (supported: ${DTYPES.join(', ')})`);
  }
  const shape = r['shape'];
  if (!Array.isArray(shape)) fail(`${where}: shape must be an array of integers, got ${describe(shape)}`);
  shape.forEach((d, i) => {
    if (!isNonNegInt(d)) fail(`${where}: shape[${i}] = ${describe(d)} is not a non-negative integer`);
  });
  const offsets = r['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    fail(`${where}: data_offsets must be an array [begin, end], got ${describe(offsets)}`);
  }
  offsets.forEach((o, i) => {
    if (!isNonNegInt(o)) fail(`${where}: data_offsets[${i}] = ${describe(o)} is not a non-negative integer`);
  });
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLen) {
    fail(`${where}: data_offsets [${begin}, ${end}] reach beyond the data section, which has ${dataLen} bytes`);
  }
  // Exact product in BigInt: a huge shape must not wrap to a small number.
  const dims = shape as number[];
  const need = dims.reduce((a, d) => a * BigInt(d), 1n) * BigInt(DTYPE_SIZES[dtype]);
  if (need !== BigInt(end - begin)) {
    fail(
      `${where}: data_offsets [${begin}, ${end}] give ${end - begin} bytes, but shape ${shapeStr(dims)} x ${dtype} needs ${need}`,
    );
  }
  return { dtype, shape: [...dims], byteLength: end - begin, dataOffsets: [begin, end] };
}

// ---------------------------------------------------------------------------
// Writer.
// ---------------------------------------------------------------------------

/** One tensor to write, given by its values. */
export interface SafetensorsEntry {
  /** Element type to store. */
  dtype: SafetensorsDtype;
  /** Shape; `[]` is a scalar. */
  shape: number[];
  /**
   * Values, row-major, product(shape) of them. Floats for F32/F16/BF16
   * (rounded to nearest, ties to even); integers for I64 (a `BigInt64Array`
   * or safe integers), I32 (int32 range), U8 (0..255); BOOL takes booleans or
   * 0/1. For F16/BF16 a `Uint16Array` is taken as the encoded bit patterns.
   */
  data: ArrayLike<number | boolean | bigint>;
}

/** One tensor to write, given by its stored little-endian bytes (as {@link SafetensorsFile.raw} returns). */
export interface SafetensorsRawEntry {
  /** Element type of the bytes. */
  dtype: SafetensorsDtype;
  /** Shape; the byte length must be product(shape) x element size. */
  shape: number[];
  /** The stored bytes, copied as they are. */
  bytes: Uint8Array;
}

/** Options of {@link serializeSafetensors}. */
export interface SerializeSafetensorsOptions {
  /** Dtype for float32 tf tensors of a `Map` input. Default `'F32'` (lossless). */
  floatDtype?: 'F32' | 'F16' | 'BF16';
  /**
   * Dtype for int32 tf tensors of a `Map` input. Default `'I64'`, the dtype
   * PyTorch uses for index buffers and labels.
   */
  intDtype?: 'I64' | 'I32';
}

/** What {@link serializeSafetensors} accepts per tensor. */
export type SafetensorsInput = SafetensorsEntry | SafetensorsRawEntry | tf.Tensor;

/**
 * Writes tensors as a safetensors file, laid out like the Python library
 * writes it: header keys sorted (`__metadata__` first), header padded with
 * spaces so the data section starts at a multiple of 8, tensors packed
 * without gaps, ordered by element size (largest first) then name, so every
 * tensor starts at a multiple of its element size.
 *
 * tf tensors are read synchronously (`dataSync`); float32 -> `floatDtype`,
 * int32 -> `intDtype`, bool -> BOOL.
 */
export function serializeSafetensors(
  entries: Record<string, SafetensorsInput> | Map<string, SafetensorsInput>,
  metadata: Record<string, string> = {},
  options: SerializeSafetensorsOptions = {},
): Uint8Array {
  const floatDtype = options.floatDtype ?? 'F32';
  const intDtype = options.intDtype ?? 'I64';
  if (!['F32', 'F16', 'BF16'].includes(floatDtype)) {
    throw new Error(`serializeSafetensors: options.floatDtype must be F32, F16 or BF16, got '${floatDtype}'`);
  }
  if (!['I64', 'I32'].includes(intDtype)) {
    throw new Error(`serializeSafetensors: options.intDtype must be I64 or I32, got '${intDtype}'`);
  }
  if (metadata === null || typeof metadata !== 'object') {
    throw new Error(`serializeSafetensors: metadata must be an object of strings, got ${describe(metadata)}`);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') {
      throw new Error(`serializeSafetensors: metadata '${k}' must be a string, got ${describe(v)}`);
    }
  }
  const list = entries instanceof Map ? [...entries.entries()] : Object.entries(entries);
  const encoded: { name: string; dtype: SafetensorsDtype; shape: number[]; bytes: Uint8Array }[] = [];
  const seen = new Set<string>();
  for (const [name, entry] of list) {
    if (name === '__metadata__') throw new Error(`serializeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    if (seen.has(name)) throw new Error(`serializeSafetensors: tensor '${name}' given twice`);
    seen.add(name);
    encoded.push({ name, ...encodeEntry(name, entry, floatDtype, intDtype) });
  }
  // Data order: larger elements first (keeps every tensor aligned), then name.
  const dataOrder = [...encoded].sort(
    (a, b) => DTYPE_SIZES[b.dtype] - DTYPE_SIZES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const offsets = new Map<string, [number, number]>();
  let cursor = 0;
  for (const e of dataOrder) {
    offsets.set(e.name, [cursor, cursor + e.bytes.byteLength]);
    cursor += e.bytes.byteLength;
  }
  // The JSON is written by hand: a JS object would move integer-like names
  // ahead of the others and break the sorted order.
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata).sort();
  if (metaKeys.length > 0) {
    parts.push(`"__metadata__":{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  for (const e of [...encoded].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const info = { dtype: e.dtype, shape: e.shape, data_offsets: offsets.get(e.name) };
    parts.push(`${JSON.stringify(e.name)}:${JSON.stringify(info)}`);
  }
  let headerBytes = new TextEncoder().encode(`{${parts.join(',')}}`);
  const pad = (8 - (headerBytes.byteLength % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(headerBytes.byteLength + pad).fill(0x20);
    padded.set(headerBytes);
    headerBytes = padded;
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + cursor);
  const dv = view(out);
  dv.setUint32(0, headerBytes.byteLength, true);
  dv.setUint32(4, 0, true);
  out.set(headerBytes, 8);
  const dataStart = 8 + headerBytes.byteLength;
  for (const e of dataOrder) out.set(e.bytes, dataStart + offsets.get(e.name)![0]);
  return out;
}

function encodeEntry(
  name: string,
  entry: SafetensorsInput,
  floatDtype: SafetensorsDtype,
  intDtype: SafetensorsDtype,
): { dtype: SafetensorsDtype; shape: number[]; bytes: Uint8Array } {
  const where = `serializeSafetensors: tensor '${name}'`;
  if (entry instanceof tf.Tensor) {
    if (entry.isDisposed) throw new Error(`${where}: the tf tensor is disposed`);
    let dtype: SafetensorsDtype;
    if (entry.dtype === 'float32') dtype = floatDtype;
    else if (entry.dtype === 'int32') dtype = intDtype;
    else if (entry.dtype === 'bool') dtype = 'BOOL';
    else throw new Error(`${where}: tf dtype '${entry.dtype}' cannot be stored (only float32, int32 and bool)`);
    return encodeEntry(name, { dtype, shape: [...entry.shape], data: entry.dataSync() as ArrayLike<number> }, floatDtype, intDtype);
  }
  if (entry === null || typeof entry !== 'object') throw new Error(`${where}: entry must be an object, got ${describe(entry)}`);
  const { dtype, shape } = entry;
  if (typeof dtype !== 'string' || !isDtype(dtype)) {
    throw new Error(`${where}: unknown dtype ${describe(dtype)} (supported: ${DTYPES.join(', ')})`);
  }
  if ((dtype === 'F8_E4M3' || dtype === 'F8_E5M2') && !('bytes' in entry)) {
    throw new Error(`${where}: encoding values as ${dtype} is not supported (give the raw bytes as { dtype, shape, bytes })`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    throw new Error(`${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const size = DTYPE_SIZES[dtype];
  if ('bytes' in entry) {
    if (!(entry.bytes instanceof Uint8Array) || entry.bytes.byteLength !== n * size) {
      throw new Error(
        `${where}: bytes must be a Uint8Array of ${n * size} bytes for shape ${shapeStr(shape)} x ${dtype}, ` +
          `got ${entry.bytes instanceof Uint8Array ? `${entry.bytes.byteLength} bytes` : describe(entry.bytes)}`,
      );
    }
    return { dtype, shape: [...shape], bytes: new Uint8Array(entry.bytes) };
  }
  const data = entry.data;
  if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<unknown>).length !== 'number') {
    throw new Error(`${where}: data must be an array or typed array, got ${describe(data)}`);
  }
  if (data.length !== n) {
    throw new Error(`${where}: data has ${data.length} values, but shape ${shapeStr(shape)} needs ${n}`);
  }
  const bytes = new Uint8Array(n * size);
  const dv = view(bytes);
  const bad = (i: number, v: unknown, expected: string): never => {
    throw new Error(`${where}: value ${describe(v)} at element ${i} is not ${expected} (dtype ${dtype})`);
  };
  const num = (i: number): number => {
    const v = (data as ArrayLike<unknown>)[i];
    if (typeof v !== 'number') bad(i, v, 'a number');
    return v as number;
  };
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, num(i), true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) dv.setFloat64(i * 8, num(i), true);
      break;
    case 'F8_E4M3':
    case 'F8_E5M2':
      break; // refused above
    case 'I16':
    case 'I8':
    case 'U16':
    case 'U32': {
      const [lo, hi] = { I16: [-(2 ** 15), 2 ** 15], I8: [-128, 128], U16: [0, 2 ** 16], U32: [0, 2 ** 32] }[dtype];
      for (let i = 0; i < n; i++) {
        const v = num(i);
        if (!Number.isInteger(v) || v < lo! || v >= hi!) bad(i, v, `an integer in ${lo}..${hi! - 1}`);
        if (dtype === 'I16') dv.setInt16(i * 2, v, true);
        else if (dtype === 'I8') dv.setInt8(i, v);
        else if (dtype === 'U16') dv.setUint16(i * 2, v, true);
        else dv.setUint32(i * 4, v, true);
      }
      break;
    }
    case 'U64':
      for (let i = 0; i < n; i++) {
        const v = (data as ArrayLike<unknown>)[i];
        if (typeof v === 'bigint' && v >= 0n && v < 2n ** 64n) dv.setBigUint64(i * 8, v, true);
        else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) dv.setBigUint64(i * 8, BigInt(v), true);
        else bad(i, v, 'a non-negative 64-bit integer');
      }
      break;
    case 'F16':
    case 'BF16': {
      if (data instanceof Uint16Array) {
        for (let i = 0; i < n; i++) dv.setUint16(i * 2, data[i]!, true);
        break;
      }
      const enc = dtype === 'F16' ? numberToF16Bits : numberToBf16Bits;
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, enc(num(i)), true);
      break;
    }
    case 'I64':
      for (let i = 0; i < n; i++) {
        const v = (data as ArrayLike<unknown>)[i];
        if (typeof v === 'bigint') {
          if (v < -(2n ** 63n) || v >= 2n ** 63n) bad(i, v, 'a 64-bit integer');
          dv.setBigInt64(i * 8, v, true);
        } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
          dv.setBigInt64(i * 8, BigInt(v), true);
        } else {
          bad(i, v, 'an integer');
        }
      }
      break;
    case 'I32':
      for (let i = 0; i < n; i++) {
        const v = num(i);
        if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) bad(i, v, 'an int32');
        dv.setInt32(i * 4, v, true);
      }
      break;
    case 'U8':
      for (let i = 0; i < n; i++) {
        const v = num(i);
        if (!Number.isInteger(v) || v < 0 || v > 255) bad(i, v, 'an integer in 0..255');
        bytes[i] = v;
      }
      break;
    case 'BOOL':
      for (let i = 0; i < n; i++) {
        const v = (data as ArrayLike<unknown>)[i];
        if (v === true || v === 1) bytes[i] = 1;
        else if (v === false || v === 0) bytes[i] = 0;
        else bad(i, v, 'a boolean or 0/1');
      }
      break;
  }
  return { dtype, shape: [...shape], bytes };
}
