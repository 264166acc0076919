/**
 * Test helpers shared by tests/layers and tests/analysis: conformance cases
 * read straight from the in-repo cases (independent of the runner), and
 * closeness checks with the cases' tolerance rule.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { parseSafetensors } from '../../src/io/index.js';
import { CASES_DIR } from '../conformance/paths.js';
import type { ConformanceCase, KindRunner } from '../conformance/types.js';

/** The in-repo conformance cases, tests/conformance/cases (written by `npm run conformance:gen`). */
export const CONFORMANCE_DIR = CASES_DIR;

/** Loads `<CONFORMANCE_DIR>/<name>.safetensors` as a {@link ConformanceCase}. */
export function loadCase(name: string): ConformanceCase {
  const file = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(CONFORMANCE_DIR, `${name}.safetensors`))));
  const metadata = { ...file.metadata };
  const tensor = (n: string): tf.Tensor => {
    const info = file.info(n);
    const data = file.decode(n);
    if (data instanceof Float32Array) return tf.tensor(data, info.shape, 'float32');
    if (data instanceof Int32Array) return tf.tensor(data, info.shape, 'int32');
    if (data instanceof Uint8Array) return tf.tensor(data, info.shape, info.dtype === 'BOOL' ? 'bool' : 'int32');
    throw new Error(`loadCase: unsupported tensor ${n}`);
  };
  return {
    name,
    kind: metadata.case ?? '',
    config: JSON.parse(metadata.config ?? '{}') as Record<string, unknown>,
    metadata,
    names: () => file.names(),
    has: (n) => file.has(n),
    tensor,
    params: (prefix = '') => {
      const out = new Map<string, tf.Tensor>();
      for (const n of file.names()) {
        if (n.startsWith(`param.${prefix}`)) out.set(n.slice(`param.${prefix}`.length), tensor(n));
      }
      return out;
    },
  };
}

/** Asserts `|got - want| <= atol + rtol * |want|` everywhere and equal shapes. */
export function expectClose(got: tf.Tensor | ArrayLike<number>, want: tf.Tensor | ArrayLike<number>, atol = 1e-5, rtol = 1e-4): void {
  const g = got instanceof tf.Tensor ? got : null;
  const w = want instanceof tf.Tensor ? want : null;
  if (g && w) expect(g.shape).toEqual(w.shape);
  const a = g ? g.dataSync() : (got as ArrayLike<number>);
  const b = w ? w.dataSync() : (want as ArrayLike<number>);
  expect(a.length).toBe(b.length);
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
    if (!(excess <= worst) || Number.isNaN(a[i]!)) {
      worst = Number.isNaN(a[i]!) ? Infinity : excess;
      at = i;
    }
  }
  if (a.length > 0 && worst > 0) {
    throw new Error(`not close at flat index ${at}: got ${a[at]}, want ${b[at]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Runs a kind on an in-repo case and checks every `expect.*` with the case's tolerance. */
export async function checkKind(name: string, run: KindRunner): Promise<void> {
  const c = loadCase(name);
  const atol = Number(c.metadata.atol);
  const rtol = Number(c.metadata.rtol);
  const got = await run(c);
  const expects = c.names().filter((n) => n.startsWith('expect.'));
  expect(expects.length).toBeGreaterThan(0);
  for (const n of expects) {
    const key = n.slice('expect.'.length);
    const g = got[key];
    if (!g) throw new Error(`${name}: kind returned no '${key}'`);
    const w = c.tensor(n);
    expectClose(g, w, atol, rtol);
    w.dispose();
  }
  for (const t of Object.values(got)) t.dispose();
}

/** Random normal tensor from a fixed seed (same on every backend). */
export function seededNormal(shape: number[], seed: number): tf.Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // Mulberry32 + Box-Muller.
    const u = () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
    };
    out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  }
  return tf.tensor(out, shape);
}
