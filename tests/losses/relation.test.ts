import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { LayerNorm, Linear } from '../../src/layers/index.js';
import { relationDistillationLoss, relationKL, relations, relationsFromQkv } from '../../src/losses/index.js';
import { absSum, expectClose, expectNoLeak, randn } from './helpers.js';

/** x flat [B, N, D]; per head softmax(a_h b_h^T * scale) -> flat [B, H, N, N]. */
function refRelation(a: number[], b: number[], bs: number, n: number, dim: number, heads: number, scale: number): number[] {
  const d = dim / heads;
  const out: number[] = [];
  for (let s = 0; s < bs; s++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < n; i++) {
        const row: number[] = [];
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let c = 0; c < d; c++) acc += a[(s * n + i) * dim + h * d + c]! * b[(s * n + j) * dim + h * d + c]!;
          row.push(acc * scale);
        }
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const z = e.reduce((x, y) => x + y, 0);
        out.push(...e.map((v) => v / z));
      }
  return out;
}

function refKL(s: number[], t: number[], n: number): number {
  let total = 0;
  const rows = s.length / n;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      const tj = t[r * n + j]!;
      if (tj > 0) total += tj * (Math.log(tj) - Math.log(s[r * n + j]!));
    }
  }
  return total / rows;
}

describe('relationsFromQkv / relations', () => {
  it.each([
    [2, 5, 8, 2, undefined],
    [1, 17, 16, 4, 0.3],
    [3, 3, 6, 1, undefined],
  ])('match softmax(q k^T s) and softmax(v v^T s) per head (B=%i N=%i D=%i H=%i scale=%s)', (b, n, dim, heads, scale) => {
    const q = randn(1 + n, b * n * dim);
    const k = randn(2 + n, b * n * dim);
    const v = randn(3 + n, b * n * dim);
    const s = scale ?? (dim / heads) ** -0.5;
    const [qt, kt, vt] = [q, k, v].map((x) => tf.tensor3d(x, [b, n, dim]));
    expectNoLeak(() => {
      const r = relationsFromQkv(qt!, kt!, vt!, heads, scale === undefined ? {} : { scale });
      expect(r.qk.shape).toEqual([b, heads, n, n]);
      expectClose(r.qk.dataSync(), refRelation(q, k, b, n, dim, heads, s), 1e-6, 1e-4);
      expectClose(r.vv.dataSync(), refRelation(v, v, b, n, dim, heads, s), 1e-6, 1e-4);
      return [r.qk, r.vv];
    });
    tf.dispose([qt!, kt!, vt!]);
  });

  it('relations() applies norm1 and the fused qkv (channels q | k | v) first', () => {
    const [b, n, dim, heads] = [2, 4, 6, 2];
    const x = randn(5, b * n * dim, 2);
    const norm = new LayerNorm({ dim, eps: 1e-6 });
    const qkv = new Linear({ inFeatures: dim, outFeatures: 3 * dim, seed: 3 });
    const gamma = randn(6, dim);
    const beta = randn(7, dim);
    const bias = randn(8, 3 * dim);
    norm.weight!.write(tf.tensor1d(gamma));
    norm.bias!.write(tf.tensor1d(beta));
    qkv.bias!.write(tf.tensor1d(bias));
    const w = Array.from(qkv.weight.read().dataSync()); // [in, out]
    // Reference: LayerNorm (biased variance) then x W + b, split in three.
    const q: number[] = [];
    const k: number[] = [];
    const v: number[] = [];
    for (let t = 0; t < b * n; t++) {
      const row = x.slice(t * dim, (t + 1) * dim);
      const mean = row.reduce((a, c) => a + c, 0) / dim;
      const variance = row.reduce((a, c) => a + (c - mean) ** 2, 0) / dim;
      const h = row.map((c, i) => ((c - mean) / Math.sqrt(variance + 1e-6)) * gamma[i]! + beta[i]!);
      for (let o = 0; o < 3 * dim; o++) {
        let acc = bias[o]!;
        for (let i = 0; i < dim; i++) acc += h[i]! * w[i * 3 * dim + o]!;
        (o < dim ? q : o < 2 * dim ? k : v).push(acc);
      }
    }
    const xt = tf.tensor3d(x, [b, n, dim]);
    expectNoLeak(() => {
      const r = relations(xt, norm, qkv, heads);
      const s = (dim / heads) ** -0.5;
      expectClose(r.qk.dataSync(), refRelation(q, k, b, n, dim, heads, s), 1e-5, 1e-3);
      expectClose(r.vv.dataSync(), refRelation(v, v, b, n, dim, heads, s), 1e-5, 1e-3);
      return [r.qk, r.vv];
    });
    // Gradients reach norm1 and qkv through the student relations.
    const teacher = relationsFromQkv(...([1, 2, 3].map((sd) => tf.tensor3d(randn(sd, b * n * dim), [b, n, dim])) as [tf.Tensor, tf.Tensor, tf.Tensor]), heads);
    const vars = [...norm.trainableVariables(), ...qkv.trainableVariables()];
    const { value, grads } = tf.variableGrads(() => relationDistillationLoss(relations(xt, norm, qkv, heads), teacher).loss, vars);
    for (const vv of vars) expect(absSum(grads[vv.name]!)).toBeGreaterThan(1e-6);
    tf.dispose([value, ...Object.values(grads), xt, teacher.qk, teacher.vv]);
    norm.dispose();
    qkv.dispose();
  });

  it('rejects bad input', () => {
    const x = tf.zeros([2, 4, 6]);
    expect(() => relationsFromQkv(x, x, x, 4)).toThrow(/heads must divide the channel count D=6, got heads=4/);
    expect(() => relationsFromQkv(x, tf.zeros([2, 5, 6]), x, 2)).toThrow(/k must have the shape of q \[2, 4, 6\], got \[2, 5, 6\]/);
    const norm = new LayerNorm({ dim: 6, eps: 1e-6 });
    const qkv = new Linear({ inFeatures: 6, outFeatures: 12 });
    expect(() => relations(x, norm, qkv, 2)).toThrow(/qkv must be a Linear 6 -> 18 \(fused q, k, v\), got 6 -> 12/);
    norm.dispose();
    qkv.dispose();
  });
});

describe('relationKL / relationDistillationLoss', () => {
  it.each([
    [1, 1, 3],
    [2, 4, 17],
  ])('KL(teacher || student) per row, averaged (B=%i H=%i N=%i)', (b, h, n) => {
    const mk = (seed: number) => tf.softmax(tf.tensor4d(randn(seed, b * h * n * n, 2), [b, h, n, n]), -1);
    const [sq, tq, sv, tv] = [1, 2, 3, 4].map(mk) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const [sqd, tqd, svd, tvd] = [sq, tq, sv, tv].map((t) => Array.from(t.dataSync()));
    expectNoLeak(() => {
      const out = relationDistillationLoss({ qk: sq, vv: sv }, { qk: tq, vv: tv });
      const a = refKL(sqd!, tqd!, n);
      const c = refKL(svd!, tvd!, n);
      expectClose(out.qkLoss.dataSync(), [a], 1e-6, 1e-4);
      expectClose(out.vvLoss.dataSync(), [c], 1e-6, 1e-4);
      expectClose(out.loss.dataSync(), [a + c], 1e-6, 1e-4);
      const self = relationKL(tq, tq);
      expect(Math.abs(self.dataSync()[0]!)).toBeLessThan(1e-6);
      return [out.loss, out.qkLoss, out.vvLoss, self];
    });
    tf.dispose([sq, tq, sv, tv]);
  });

  it('a zero teacher entry contributes 0, not NaN; the teacher gets no gradient', () => {
    const s = tf.tensor4d([0.5, 0.5, 0.25, 0.75], [1, 1, 2, 2]);
    const t = tf.tensor4d([1, 0, 0.5, 0.5], [1, 1, 2, 2]);
    const kl = relationKL(s, t);
    const want = (Math.log(1) - Math.log(0.5) + 0.5 * (Math.log(0.5) - Math.log(0.25)) + 0.5 * (Math.log(0.5) - Math.log(0.75))) / 2;
    expect(kl.dataSync()[0]).toBeCloseTo(want, 6);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => relationKL(a, b))([s, t]);
    // d/dS_j = -T_j / S_j / rows
    expectClose(g[0]!.dataSync(), [-1 / 0.5 / 2, 0, -0.5 / 0.25 / 2, -0.5 / 0.75 / 2], 1e-6, 1e-5);
    expect(absSum(g[1]!)).toBe(0);
  });

  it('rejects mismatched maps', () => {
    const a = tf.zeros([1, 2, 3, 3]);
    const b = tf.zeros([1, 4, 3, 3]);
    expect(() => relationDistillationLoss({ qk: a, vv: a }, { qk: b, vv: b })).toThrow(
      /teacher relations must have the student's shape.*student qk \[1, 2, 3, 3\].*teacher qk \[1, 4, 3, 3\]/,
    );
    expect(() => relationKL(tf.zeros([3, 3]), tf.zeros([3, 3]))).toThrow(/student must have rank 4/);
  });
});
