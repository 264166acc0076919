/**
 * Test helpers of the loss tests: seeded random arrays, closeness checks and
 * a minimal safetensors reader (F32/F16/BF16/I64/BOOL) for the conformance
 * files, so these tests do not depend on the io module.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { Rng } from '../../src/utils/random.js';
import { CASES_DIR } from '../conformance/paths.js';

/** The in-repo conformance cases, tests/conformance/cases (written by `npm run conformance:gen`). */
export const CONFORMANCE_DIR = CASES_DIR;

/** `n` standard-normal numbers from `seed`, times `scale`. */
export function randn(seed: number, n: number, scale = 1): number[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => r.normal() * scale);
}

/** Nested array `[rows][cols]` of normals. */
export function randMatrix(seed: number, rows: number, cols: number, scale = 1): number[][] {
  const flat = randn(seed, rows * cols, scale);
  return Array.from({ length: rows }, (_, i) => flat.slice(i * cols, (i + 1) * cols));
}

/** Asserts |got - want| <= atol + rtol |want| elementwise. */
export function expectClose(got: ArrayLike<number> | number, want: ArrayLike<number> | number, atol = 1e-5, rtol = 1e-4): void {
  const g = typeof got === 'number' ? [got] : Array.from(got);
  const w = typeof want === 'number' ? [want] : Array.from(want);
  expect(g.length).toBe(w.length);
  for (let i = 0; i < g.length; i++) {
    const ok = Math.abs(g[i]! - w[i]!) <= atol + rtol * Math.abs(w[i]!);
    if (!ok) {
      throw new Error(`element ${i}: got ${g[i]}, want ${w[i]} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Runs `f` and asserts that it leaves no new tensors behind (after disposing what it returns). */
export function expectNoLeak(f: () => tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor> | void): void {
  const before = tf.memory().numTensors;
  const out = f();
  if (out instanceof tf.Tensor) out.dispose();
  else if (Array.isArray(out)) tf.dispose(out);
  else if (out) tf.dispose(Object.values(out));
  expect(tf.memory().numTensors).toBe(before);
}

/** One tensor of a safetensors file. */
export interface StTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A parsed safetensors file. */
export interface StFile {
  metadata: Record<string, string>;
  config: Record<string, unknown>;
  tensors: Map<string, StTensor>;
}

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Reads a safetensors file. */
export function readSafetensors(path: string): StFile {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const base = 8 + n;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, StTensor>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const bytes = buf.subarray(base + data_offsets[0], base + data_offsets[1]);
    const count = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array | Int32Array;
    if (dtype === 'F32') {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(i * 4);
    } else if (dtype === 'F16') {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = f16(bytes.readUInt16LE(i * 2));
    } else if (dtype === 'BF16') {
      data = new Float32Array(count);
      const tmp = Buffer.alloc(4);
      for (let i = 0; i < count; i++) {
        tmp.writeUInt32LE(bytes.readUInt16LE(i * 2) << 16 >>> 0, 0);
        data[i] = tmp.readFloatLE(0);
      }
    } else if (dtype === 'I64') {
      data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = Number(bytes.readBigInt64LE(i * 8));
    } else if (dtype === 'BOOL') {
      data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = bytes[i]!;
    } else {
      throw new Error(`readSafetensors: unsupported dtype ${dtype} of ${name}`);
    }
    tensors.set(name, { dtype, shape, data });
  }
  const config = metadata.config ? (JSON.parse(metadata.config) as Record<string, unknown>) : {};
  return { metadata, config, tensors };
}

/** A tensor of the file as a tf tensor (float32, or int32 for I64, bool for BOOL). */
export function stTensor(file: StFile, name: string): tf.Tensor {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`no tensor ${name}`);
  if (t.dtype === 'BOOL') return tf.tensor(t.data, t.shape, 'bool');
  return tf.tensor(t.data, t.shape, t.dtype === 'I64' ? 'int32' : 'float32');
}

/** Tolerance of a case file. */
export function tolerance(file: StFile): { atol: number; rtol: number } {
  return { atol: Number(file.metadata.atol ?? '1e-4'), rtol: Number(file.metadata.rtol ?? '1e-3') };
}

/**
 * A {@link ConformanceCase} over a file read by {@link readSafetensors}, so
 * the kind runners can be exercised here without the shared runner.
 */
export function loadCase(path: string): import('../conformance/types.js').ConformanceCase {
  const f = readSafetensors(path);
  const name = path.replace(/^.*\//, '').replace(/\.safetensors$/, '');
  return {
    name,
    kind: f.metadata.case ?? '',
    config: f.config,
    metadata: f.metadata,
    names: () => [...f.tensors.keys()],
    has: (n: string) => f.tensors.has(n),
    tensor: (n: string) => stTensor(f, n),
    params: (prefix = '') => {
      const out = new Map<string, tf.Tensor>();
      for (const k of f.tensors.keys()) {
        if (k.startsWith(`param.${prefix}`)) out.set(k.slice(`param.${prefix}`.length), stTensor(f, k));
      }
      return out;
    },
  };
}

/**
 * Runs a kind runner on a case file and checks every `expect.*` tensor with
 * the file's tolerance, and that the runner leaves no tensors behind.
 */
export async function checkConformance(
  path: string,
  run: import('../conformance/types.js').KindRunner,
): Promise<void> {
  const f = readSafetensors(path);
  const c = loadCase(path);
  const { atol, rtol } = tolerance(f);
  const before = tf.memory().numTensors;
  const out = await run(c);
  const expected = [...f.tensors.keys()].filter((k) => k.startsWith('expect.')).map((k) => k.slice(7));
  expect(Object.keys(out).sort()).toEqual(expected.sort());
  for (const k of expected) {
    const want = f.tensors.get(`expect.${k}`)!;
    const got = out[k]!;
    expect(got.shape, k).toEqual(want.shape);
    try {
      expectClose(got.dataSync(), want.data, atol, rtol);
    } catch (e) {
      throw new Error(`${k}: ${(e as Error).message}`);
    }
  }
  tf.dispose(Object.values(out));
  expect(tf.memory().numTensors).toBe(before);
}

/** Central finite difference of a float64 reference `f` at coordinates `idx` of `x`. */
export function numericGrad(f: (x: number[]) => number, x: number[], idx: number[], h = 1e-5): number[] {
  return idx.map((i) => {
    const a = x.slice();
    const b = x.slice();
    a[i]! += h;
    b[i]! -= h;
    return (f(a) - f(b)) / (2 * h);
  });
}

/** Sum of |values|. */
export function absSum(t: tf.Tensor): number {
  return Array.from(t.dataSync()).reduce((a, b) => a + Math.abs(b), 0);
}
