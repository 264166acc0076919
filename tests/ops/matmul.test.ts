import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { linear, matMul, setBatchedMatMulPath, setExplicitTranspose } from '../../src/ops/matmul.js';
import { ensureGradients } from '../../src/ops/gradients.js';

/**
 * `matMul(a, b, ta, tb)` = op(a) @ op(b), checked against a hand computation in
 * plain JS for all four flag combinations, with the explicit-transpose path
 * forced on and off (on `wasm` it is on by default), values and gradients.
 */

type M = number[][];
const T = (x: M): M => x[0]!.map((_, j) => x.map((row) => row[j]!));
const mm = (x: M, y: M): M => x.map((row) => y[0]!.map((_, j) => row.reduce((s, v, k) => s + v * y[k]![j]!, 0)));
const fill = (r: number, c: number, f: (i: number, j: number) => number): M =>
  Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => f(i, j)));

const m = 3;
const k = 4;
const n = 2;
// op(a) is [m, k], op(b) is [k, n]; w weighs the objective sum(w * c).
const opA = fill(m, k, (i, j) => (i + 1) * 0.5 - j * 0.25);
const opB = fill(k, n, (i, j) => Math.sin(i + 2 * j));
const w = fill(m, n, (i, j) => 1 + i - j);

function expectMatrix(t: tf.Tensor, want: M): void {
  expect(t.shape).toEqual([want.length, want[0]!.length]);
  const got = t.arraySync() as M;
  want.forEach((row, i) => row.forEach((v, j) => expect(got[i]![j]!).toBeCloseTo(v, 5)));
}

afterEach(() => {
  setExplicitTranspose(undefined);
  setBatchedMatMulPath(undefined);
});

describe('matMul', () => {
  for (const explicit of [true, false]) {
    for (const [ta, tb] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      it(`explicit=${explicit}, transposeA=${ta}, transposeB=${tb}: values and gradients`, async () => {
        ensureGradients();
        setExplicitTranspose(explicit);
        const a = tf.tensor2d(ta ? T(opA) : opA);
        const b = tf.tensor2d(tb ? T(opB) : opB);
        const wt = tf.tensor2d(w);
        // The forced path is the one taken: explicit transposes run Transpose kernels.
        const profile = await tf.profile(() => matMul(a, b, ta, tb));
        tf.dispose(profile.result as tf.Tensor);
        expect(profile.kernelNames.includes('Transpose')).toBe(explicit && (ta || tb));
        const before = tf.memory().numTensors;
        const c = matMul(a, b, ta, tb);
        expectMatrix(c, mm(opA, opB));
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x, y, ta, tb), wt)))([a, b]);
        // d/d op(a) = w op(b)^T, d/d op(b) = op(a)^T w, transposed back if flagged.
        const dOpA = mm(w, T(opB));
        const dOpB = mm(T(opA), w);
        expectMatrix(da!, ta ? T(dOpA) : dOpA);
        expectMatrix(db!, tb ? T(dOpB) : dOpB);
        tf.dispose([c, da!, db!]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([a, b, wt]);
      });
    }
  }

  it('batched (rank 3) products match the per-batch hand product, both paths', () => {
    const a = [opA, opA.map((row) => row.map((v) => -2 * v))];
    const b = [opB, opB.map((row) => row.map((v) => v + 1))];
    const results = [true, false].map((explicit) => {
      setExplicitTranspose(explicit);
      return tf.tidy(() => {
        const at = tf.tensor3d(a.map(T)); // stored transposed, so flag it
        const bt = tf.tensor3d(b);
        const c = matMul(at, bt, true, false);
        const g = tf.grad((x: tf.Tensor) => tf.sum(matMul(x, bt, true, false)))(at);
        return { c: c.arraySync() as M[], g: g.arraySync() as M[] };
      });
    });
    for (const r of results) {
      r.c.forEach((cb, i) => cb.forEach((row, p) => row.forEach((v, q) => expect(v).toBeCloseTo(mm(a[i]!, b[i]!)[p]![q]!, 5))));
      // d sum(op(a) b) / d op(a) = ones [m, n] b^T, stored transposed.
      r.g.forEach((gb, i) => {
        const want = T(mm(fill(m, n, () => 1), T(b[i]!)));
        gb.forEach((row, p) => row.forEach((v, q) => expect(v).toBeCloseTo(want[p]![q]!, 5)));
      });
    }
  });

  for (const path of ['matmul', 'depthwise'] as const) {
    for (const [ta, tb] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      it(`batched path ${path}, transposeA=${ta}, transposeB=${tb}: rank-4 values and gradients equal the per-matrix hand product`, async () => {
        ensureGradients();
        setBatchedMatMulPath(path);
        // Leading dims [2, 3]: six different [m, k] @ [k, n] products.
        const lead = [2, 3];
        const As = Array.from({ length: 6 }, (_, c) => fill(m, k, (i, j) => Math.cos(c + 0.7 * i - 0.3 * j)));
        const Bs = Array.from({ length: 6 }, (_, c) => fill(k, n, (i, j) => Math.sin(2 * c - i + 0.5 * j)));
        const Ws = Array.from({ length: 6 }, (_, c) => fill(m, n, (i, j) => c - i + 2 * j));
        const stack = (ms: M[], t: boolean): tf.Tensor =>
          tf.reshape(tf.tensor3d(ms.map((x) => (t ? T(x) : x))), [...lead, t ? ms[0]![0]!.length : ms[0]!.length, t ? ms[0]!.length : ms[0]![0]!.length]);
        const a = stack(As, ta);
        const b = stack(Bs, tb);
        const wt = stack(Ws, false);
        const profile = await tf.profile(() => matMul(a, b, ta, tb));
        tf.dispose(profile.result as tf.Tensor);
        expect(profile.kernelNames.includes('DepthwiseConv2dNative')).toBe(path === 'depthwise');
        const before = tf.memory().numTensors;
        const c = matMul(a, b, ta, tb);
        expect(c.shape).toEqual([...lead, m, n]);
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x, y, ta, tb), wt)))([a, b]);
        const six = (t: tf.Tensor): M[] => tf.tidy(() => tf.reshape(t, [6, ...t.shape.slice(2)]).arraySync() as M[]);
        const [cs, das, dbs] = [six(c), six(da!), six(db!)];
        for (let i = 0; i < 6; i++) {
          const close = (got: M, want: M): void => want.forEach((row, p) => row.forEach((v, q) => expect(got[p]![q]!).toBeCloseTo(v, 5)));
          close(cs[i]!, mm(As[i]!, Bs[i]!));
          const dOpA = mm(Ws[i]!, T(Bs[i]!));
          const dOpB = mm(T(As[i]!), Ws[i]!);
          close(das[i]!, ta ? T(dOpA) : dOpA);
          close(dbs[i]!, tb ? T(dOpB) : dOpB);
        }
        tf.dispose([c, da!, db!]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([a, b, wt]);
      });
    }
  }

  it('explicit a^T b with a narrower than b (a weight gradient) runs as (b^T a)^T: hand values, gradients, kernel shapes', async () => {
    ensureGradients();
    setExplicitTranspose(true);
    // a [R=4, 2], b [R=4, 3]: op(a) @ b is [2, 3]; b is wider, so the product packs a, not b.
    const A = fill(4, 2, (i, j) => 0.5 * i - j + 0.25);
    const B = fill(4, 3, (i, j) => Math.cos(i - j));
    const W = fill(2, 3, (i, j) => i + 2 * j - 1);
    const a = tf.tensor2d(A);
    const b = tf.tensor2d(B);
    const wt = tf.tensor2d(W);
    const profile = await tf.profile(() => matMul(a, b, true, false));
    tf.dispose(profile.result as tf.Tensor);
    const products = profile.kernels.filter((q) => /MatMul/.test(q.name)).map((q) => q.inputShapes);
    expect(products).toEqual([[[3, 4], [4, 2]]]);
    const before = tf.memory().numTensors;
    const c = matMul(a, b, true, false);
    expectMatrix(c, mm(T(A), B));
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x, y, true, false), wt)))([a, b]);
    // c = a^T b: dc/da = b w^T, dc/db = a w.
    expectMatrix(da!, mm(B, T(W)));
    expectMatrix(db!, mm(A, W));
    tf.dispose([c, da!, db!]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, wt]);
  });

  it('the depthwise path falls back to BatchMatMul for broadcast batch dimensions', () => {
    setBatchedMatMulPath('depthwise');
    const a = tf.ones([2, 3, 4]);
    const b = tf.ones([1, 4, 2]);
    const c = matMul(a, b);
    expect(c.shape).toEqual([2, 3, 2]);
    expect(Array.from(c.dataSync())).toEqual(new Array(12).fill(4));
    tf.dispose([a, b, c]);
  });

  it('setBatchedMatMulPath rejects an unknown path, naming it', () => {
    expect(() => setBatchedMatMulPath('fast' as never)).toThrow(/setBatchedMatMulPath: value must be 'matmul', 'depthwise' or undefined, got/);
  });

  it('rejects operands of unequal or too small rank, naming the shapes', () => {
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([1, 3, 2]);
    const v = tf.zeros([3]);
    expect(() => matMul(a, b)).toThrow(/equal rank >= 2, got a.shape=\[2,3\] and b.shape=\[1,3,2\]/);
    expect(() => matMul(v, v)).toThrow(/a.shape=\[3\]/);
    tf.dispose([a, b, v]);
  });
});

describe('linear', () => {
  it('maps the last axis of a rank-3 input, with bias, and has gradients', () => {
    const x = tf.tensor3d([[[1, 2, 3]], [[0, -1, 1]]]);
    const wt = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
    const bias = tf.tensor1d([0.5, -0.5]);
    const y = linear(x, wt, bias);
    expect(y.shape).toEqual([2, 1, 2]);
    expect(Array.from(y.dataSync())).toEqual([4.5, 4.5, 1.5, -0.5]);
    const [dw, db] = tf.grads((w2: tf.Tensor, b2: tf.Tensor) => tf.sum(linear(x, w2, b2)))([wt, bias]);
    expect(Array.from(dw!.dataSync())).toEqual([1, 1, 1, 1, 4, 4]);
    expect(Array.from(db!.dataSync())).toEqual([2, 2]);
    tf.dispose([x, wt, bias, y, dw!, db!]);
  });
});
