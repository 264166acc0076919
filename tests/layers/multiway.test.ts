import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Linear } from '../../src/layers/linear.js';
import { Multiway, MultiwayBlock, type MultiwayBlockConfig } from '../../src/layers/multiway.js';
import { run as multiwayKind } from '../conformance/kinds/multiway_layer.js';
import { CONFORMANCE_DIR, absSum, checkConformance, expectClose, randn, readSafetensors } from '../losses/helpers.js';

// ---- an independent plain-JS torchscale EncoderLayer ------------------------

type W = Map<string, number[]>;

/** erf, Abramowitz-Stegun 7.1.26 (|err| < 1.5e-7, well inside the tolerances). */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

function layerNorm(row: number[], w: number[], b: number[], eps: number): number[] {
  const n = row.length;
  const mean = row.reduce((a, c) => a + c, 0) / n;
  const variance = row.reduce((a, c) => a + (c - mean) ** 2, 0) / n;
  return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w[i]! + b[i]!);
}
/** weight stored [in, out] (the library's layout). */
function lin(row: number[], w: number[], b: number[]): number[] {
  const out = b.slice();
  const nOut = b.length;
  for (let i = 0; i < row.length; i++) for (let o = 0; o < nOut; o++) out[o]! += row[i]! * w[i * nOut + o]!;
  return out;
}

function refLayer(x: number[], bs: number, t: number, c: number, heads: number, s: number, subln: boolean, eps: number, w: W, ffnExpert?: string) {
  const ex = (i: number) => (s === -1 || i < s ? 'A' : 'B');
  const g = (k: string) => w.get(k)!;
  const ln = (name: string, e: string, row: number[]) => layerNorm(row, g(`${name}.${e}.weight`), g(`${name}.${e}.bias`), eps);
  const ln2 = (name: string, e: string, row: number[]) => lin(row, g(`${name}.${e}.weight`), g(`${name}.${e}.bias`));
  const d = c / heads;
  const out: number[] = [];
  const attn: number[] = [];
  for (let n = 0; n < bs; n++) {
    const rows = Array.from({ length: t }, (_, i) => x.slice((n * t + i) * c, (n * t + i + 1) * c));
    const h = rows.map((r, i) => ln('self_attn_layer_norm', ex(i), r));
    const q = h.map((r, i) => ln2('self_attn.q_proj', ex(i), r).map((v) => v * d ** -0.5));
    const k = h.map((r, i) => ln2('self_attn.k_proj', ex(i), r));
    const v = h.map((r, i) => ln2('self_attn.v_proj', ex(i), r));
    const o = rows.map(() => new Array<number>(c).fill(0));
    for (let hh = 0; hh < heads; hh++) {
      for (let i = 0; i < t; i++) {
        const sc = k.map((kr) => {
          let a = 0;
          for (let j = 0; j < d; j++) a += q[i]![hh * d + j]! * kr[hh * d + j]!;
          return a;
        });
        const m = Math.max(...sc);
        const e = sc.map((z) => Math.exp(z - m));
        const z = e.reduce((a, b2) => a + b2, 0);
        const p = e.map((y) => y / z);
        attn.push(...p);
        for (let j = 0; j < d; j++) o[i]![hh * d + j] = p.reduce((a, pj, jj) => a + pj * v[jj]![hh * d + j]!, 0);
      }
    }
    const x1 = rows.map((r, i) => {
      const oo = subln ? ln('self_attn.inner_attn_ln', ex(i), o[i]!) : o[i]!;
      const a = ln2('self_attn.out_proj', ex(i), oo);
      return r.map((val, j) => val + a[j]!);
    });
    x1.forEach((r, i) => {
      const hN = ln('final_layer_norm', ex(i), r);
      const e = ffnExpert ?? ex(i);
      let f = lin(hN, g(`ffn.${e}.fc1.weight`), g(`ffn.${e}.fc1.bias`)).map(gelu);
      if (subln) f = layerNorm(f, g(`ffn.${e}.ffn_layernorm.weight`), g(`ffn.${e}.ffn_layernorm.bias`), eps);
      const y = lin(f, g(`ffn.${e}.fc2.weight`), g(`ffn.${e}.fc2.bias`));
      out.push(...r.map((val, j) => val + y[j]!));
    });
  }
  return { out, attn };
}

/** Random weights into every variable of `m`; returns them by key ([in, out] layout). */
function randomize(m: MultiwayBlock, seed: number): W {
  const w: W = new Map();
  let s = seed;
  for (const [k, v] of m.namedWeights()) {
    const n = v.shape.reduce((a, b) => a! * b!, 1)!;
    const isNormWeight = /(layer_norm|attn_ln|ffn_layernorm)\.[A-C]\.weight$|ffn_layernorm\.weight$/.test(k);
    const vals = randn(s++, n, 0.3).map((x) => (isNormWeight ? 1 + x : x));
    v.write(tf.tensor(vals, v.shape as number[]));
    w.set(k, vals);
  }
  return w;
}

function build(cfg: MultiwayBlockConfig, seed: number) {
  const block = new MultiwayBlock(cfg);
  return { block, w: randomize(block, seed) };
}

// ---- tests -----------------------------------------------------------------

describe('Multiway', () => {
  it('routes tokens [0, s) to A and [s, T) to B; -1 all A, 0 all B; expert override', () => {
    const mw = new Multiway<Linear>({ create: (_e, seed) => new Linear({ inFeatures: 2, outFeatures: 1, bias: false, seed }) });
    mw.A.weight.write(tf.tensor2d([[1], [0]]));
    mw.B.weight.write(tf.tensor2d([[0], [1]]));
    const x = tf.tensor3d([[[1, 10], [2, 20], [3, 30]]]);
    const y = (s: number) => Array.from(mw.forward(x, s).dataSync());
    expect(y(-1)).toEqual([1, 2, 3]);
    expect(y(0)).toEqual([10, 20, 30]);
    expect(y(1)).toEqual([1, 20, 30]);
    expect(y(2)).toEqual([1, 2, 30]);
    expect(y(3)).toEqual([1, 2, 3]);
    expect(Array.from(mw.forward(x, 2, { expert: 'B' }).dataSync())).toEqual([10, 20, 30]);
    expect([...mw.namedWeights('q_proj').keys()]).toEqual(['q_proj.A.weight', 'q_proj.B.weight']);
    expect(() => mw.forward(x, 4)).toThrow(/splitPosition must be an integer in \[-1, T=3\].*got 4/);
    expect(() => mw.forward(x, -2)).toThrow(/splitPosition.*got -2/);
    expect(() => mw.forward(x, 1, { expert: 'C' })).toThrow(/expert must be 'A', 'B'.*got 'C'/);
    mw.dispose();
  });
});

describe('MultiwayBlock', () => {
  it('reproduces the torchscale multiway_layer conformance case', () => checkConformance(`${CONFORMANCE_DIR}/multiway_layer.safetensors`, multiwayKind));

  it('has exactly the torchscale parameter keys', () => {
    const f = readSafetensors(`${CONFORMANCE_DIR}/multiway_layer.safetensors`);
    const want = [...f.tensors.keys()].filter((k) => k.startsWith('param.')).map((k) => k.slice(6)).sort();
    const block = new MultiwayBlock({ embedDim: 32, heads: 4, ffnDim: 128 });
    expect([...block.namedWeights().keys()].sort()).toEqual(want);
    block.dispose();
    const plain = new MultiwayBlock({ embedDim: 8, heads: 2, subln: false, vlExpert: true });
    const keys = [...plain.namedWeights().keys()];
    expect(keys.some((k) => k.includes('inner_attn_ln') || k.includes('ffn_layernorm'))).toBe(false);
    expect(keys.filter((k) => k.startsWith('ffn.C.')).sort()).toEqual(['ffn.C.fc1.bias', 'ffn.C.fc1.weight', 'ffn.C.fc2.bias', 'ffn.C.fc2.weight']);
    expect(plain.config.ffnDim).toBe(32);
    plain.dispose();
  });

  it.each([
    [8, 2, 16, true, -1, 5],
    [8, 2, 16, true, 0, 5],
    [8, 4, 12, true, 2, 5],
    [12, 3, 20, false, 4, 6],
    [6, 1, 10, false, 5, 5],
  ])('matches a plain-JS torchscale layer (C=%i heads=%i ffn=%i subln=%s s=%i T=%i)', (c, heads, ffnDim, subln, s, t) => {
    const bs = 2;
    const eps = 1e-5;
    const { block, w } = build({ embedDim: c, heads, ffnDim, subln, layernormEps: eps, seed: 3 }, c * 7 + s);
    const xs = randn(c + t, bs * t * c);
    const x = tf.tensor3d(xs, [bs, t, c]);
    const want = refLayer(xs, bs, t, c, heads, s, subln, eps, w);
    const before = tf.memory().numTensors;
    const { out, attn } = block.forward(x, { splitPosition: s, returnAttention: true });
    expectClose(out.dataSync(), want.out, 2e-5, 1e-4);
    expectClose(attn!.dataSync(), want.attn, 1e-6, 1e-4);
    tf.dispose([out, attn!]);
    expect(tf.memory().numTensors).toBe(before);
    block.dispose();
    x.dispose();
  });

  it('gradients: every weight of both experts when both modalities are present, none to B when s = -1; memory flat', () => {
    const { block } = build({ embedDim: 8, heads: 2, ffnDim: 16, seed: 1 }, 100);
    const x = tf.tensor3d(randn(9, 2 * 5 * 8), [2, 5, 8]);
    const vars = block.trainableVariables();
    const names = [...block.namedWeights().keys()];
    const before = tf.memory().numTensors;
    for (const s of [2, -1, 0]) {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(block.forward(x, { splitPosition: s }).out)) as tf.Scalar, vars);
      vars.forEach((v, i) => {
        const key = names[i]!;
        // variableGrads leaves out variables the loss does not reach (zero gradient).
        const g = grads[v.name] ? absSum(grads[v.name]!) : 0;
        const expert = /\.([AB])\./.exec(key)![1];
        const used = s === 2 || (s === -1 && expert === 'A') || (s === 0 && expert === 'B');
        if (used) expect(g, `${key} at s=${s}`).toBeGreaterThan(0);
        else expect(g, `${key} at s=${s}`).toBe(0);
        expect(Number.isFinite(g)).toBe(true);
      });
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    block.dispose();
    x.dispose();
  });

  it('vision-language expert: useVLExpert sends every token through ffn.C', () => {
    const c = 8;
    const { block, w } = build({ embedDim: c, heads: 2, ffnDim: 16, vlExpert: true, seed: 2 }, 200);
    const x = tf.tensor3d(randn(4, 2 * 5 * c), [2, 5, c]);
    const want = refLayer(Array.from(x.dataSync()), 2, 5, c, 2, 3, true, 1e-5, w, 'C');
    const { out } = block.forward(x, { splitPosition: 3, useVLExpert: true });
    expectClose(out.dataSync(), want.out, 2e-5, 1e-4);
    const vars = block.trainableVariables();
    const names = [...block.namedWeights().keys()];
    const { value, grads } = tf.variableGrads(
      () => tf.sum(block.forward(x, { splitPosition: 3, useVLExpert: true }).out) as tf.Scalar,
      vars,
    );
    vars.forEach((v, i) => {
      const key = names[i]!;
      if (/^ffn\.[AB]\./.test(key)) expect(grads[v.name] ? absSum(grads[v.name]!) : 0, key).toBe(0);
      if (/^ffn\.C\.fc1\.weight/.test(key)) expect(absSum(grads[v.name]!), key).toBeGreaterThan(0);
    });
    tf.dispose([out, value, ...Object.values(grads), x]);
    block.dispose();
  });

  it('rejects bad config and input', () => {
    expect(() => new MultiwayBlock({ embedDim: 10, heads: 3 })).toThrow(/embedDim 10 is not divisible by heads 3/);
    expect(() => new MultiwayBlock({ embedDim: 8, heads: 2, layernormEps: 0 })).toThrow(/layernormEps must be a positive number.*got 0/);
    const b = new MultiwayBlock({ embedDim: 8, heads: 2 });
    expect(() => b.forward(tf.zeros([1, 4, 6]))).toThrow(/x must be \[B, T, embedDim=8\], got shape \[1,4,6\]/);
    expect(() => b.forward(tf.zeros([1, 4, 8]), { splitPosition: 5 })).toThrow(/splitPosition must be an integer in \[-1, T=4\].*got 5/);
    expect(() => b.forward(tf.zeros([1, 4, 8]), { useVLExpert: true })).toThrow(/useVLExpert needs a block built with vlExpert: true/);
    b.dispose();
  });
});
