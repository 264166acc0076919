import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { gatherTokens, restoreTokens } from '../../src/ops/permute.js';

/** x[b, l, d] = 100 b + 10 l + d, easy to read back. */
function tokens(b: number, l: number, d: number): tf.Tensor3D {
  const v = new Float32Array(b * l * d);
  for (let i = 0; i < b; i++) for (let j = 0; j < l; j++) for (let k = 0; k < d; k++) v[(i * l + j) * d + k] = 100 * i + 10 * j + k;
  return tf.tensor3d(v, [b, l, d]);
}

/** Deterministic pseudo-random weights for a scalar objective sum(w * y). */
function weights(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(1.7 * i + 0.3);
  return tf.tensor(v, shape);
}

describe('gatherTokens', () => {
  it('takes the listed tokens per sample, in order (hand example)', () => {
    const x = tokens(2, 4, 2);
    const ids = tf.tensor2d([[2, 0], [3, 1]], [2, 2], 'int32');
    const y = gatherTokens(x, ids);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(y.dataSync())).toEqual([20, 21, 0, 1, 130, 131, 110, 111]);
    tf.dispose([x, ids, y]);
  });

  it('works on [B, L] tensors too', () => {
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const ids = tf.tensor2d([[2], [0]], [2, 1], 'int32');
    const y = gatherTokens(x, ids);
    expect(Array.from(y.dataSync())).toEqual([3, 4]);
    tf.dispose([x, ids, y]);
  });

  it('gradient is dy placed back at the taken rows, zero elsewhere (hand example)', () => {
    const x = tokens(2, 4, 2);
    const ids = tf.tensor2d([[2, 0], [3, 1]], [2, 2], 'int32');
    const w = tf.tensor3d([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => gatherTokens(t, ids))(x, w);
    // Exact expected array, identical on every backend.
    expect(Array.from(g.dataSync())).toEqual([3, 4, 0, 0, 1, 2, 0, 0, 0, 0, 7, 8, 0, 0, 5, 6]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ids, w]);
  });

  it('gradient matches finite differences', () => {
    const x = tf.randomUniform([3, 6, 4], -1, 1, 'float32', 3) as tf.Tensor3D;
    const ids = tf.tensor2d([[5, 0, 2], [1, 4, 3], [0, 1, 2]], [3, 3], 'int32');
    const w = weights([3, 3, 4]);
    // d/dx of f(x) = sum(w * gather(x)) is the vector-Jacobian product with dy = w.
    const f = (t: tf.Tensor) => tf.sum(tf.mul(gatherTokens(t, ids), w));
    const g = tf.grad((t: tf.Tensor) => gatherTokens(t, ids))(x, w);
    const xv = x.arraySync() as number[][][];
    const gv = g.arraySync() as number[][][];
    const eps = 1e-2;
    for (const [b, l, d] of [[0, 5, 1], [0, 3, 2], [1, 4, 0], [2, 2, 3], [2, 5, 3]] as const) {
      const plus = xv.map((r) => r.map((c) => c.slice()));
      const minus = xv.map((r) => r.map((c) => c.slice()));
      plus[b]![l]![d]! += eps;
      minus[b]![l]![d]! -= eps;
      const fp = tf.tidy(() => f(tf.tensor3d(plus)).dataSync()[0]!);
      const fm = tf.tidy(() => f(tf.tensor3d(minus)).dataSync()[0]!);
      expect(gv[b]![l]![d]!).toBeCloseTo((fp - fm) / (2 * eps), 2);
    }
    tf.dispose([x, ids, w, g]);
  });

  it('forward and gradient match a JS reference on random subsets (MAE-sized)', () => {
    const [B, L, K, D] = [3, 16, 4, 5];
    const idsRows: number[][] = [];
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let b = 0; b < B; b++) {
      const perm = Array.from({ length: L }, (_, i) => i);
      for (let i = L - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      idsRows.push(perm.slice(0, K));
    }
    const x = tokens(B, L, D);
    const ids = tf.tensor2d(idsRows, [B, K], 'int32');
    const dy = weights([B, K, D]);
    const y = gatherTokens(x, ids);
    const g = tf.grad((t: tf.Tensor) => gatherTokens(t, ids))(x, dy);
    const xv = x.dataSync();
    const dyv = dy.dataSync();
    const wantY = new Float32Array(B * K * D);
    const wantG = new Float32Array(B * L * D);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        for (let d = 0; d < D; d++) {
          wantY[(b * K + k) * D + d] = xv[(b * L + idsRows[b]![k]!) * D + d]!;
          wantG[(b * L + idsRows[b]![k]!) * D + d] = dyv[(b * K + k) * D + d]!;
        }
      }
    }
    expect(Array.from(y.dataSync())).toEqual(Array.from(wantY));
    expect(Array.from(g.dataSync())).toEqual(Array.from(wantG));
    tf.dispose([x, ids, dy, y, g]);
  });

  it('rejects bad ids before any tensor work', () => {
    const x = tokens(2, 4, 2);
    const before = tf.memory().numTensors;
    const f32 = tf.tensor2d([[0], [1]]);
    expect(() => gatherTokens(x, f32 as tf.Tensor2D)).toThrow(/ids must have dtype int32, got float32/);
    const wrongB = tf.tensor2d([[0]], [1, 1], 'int32');
    expect(() => gatherTokens(x, wrongB)).toThrow(/ids batch size 1 must equal the tokens' batch size 2/);
    const r1 = tf.tensor1d([0, 1], 'int32');
    expect(() => gatherTokens(x, r1 as unknown as tf.Tensor2D)).toThrow(/ids must have rank 2/);
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([x, f32, wrongB, r1]);
  });
});

describe('restoreTokens', () => {
  // visible rows: sample 0 kept grid positions [2, 0]; sample 1 kept [3, 1] (L = 4, K = 2).
  const idsRestoreRows = [[1, 2, 0, 3], [2, 1, 3, 0]];

  it('puts visible tokens back and fills the rest with the mask token (hand example)', () => {
    const visible = tf.tensor3d([[[20, 21], [0, 1]], [[130, 131], [110, 111]]]);
    const mt = tf.tensor3d([[[-1, -2]]]);
    const ids = tf.tensor2d(idsRestoreRows, [2, 4], 'int32');
    const y = restoreTokens(visible, mt, ids);
    expect(y.shape).toEqual([2, 4, 2]);
    expect(Array.from(y.dataSync())).toEqual([0, 1, -1, -2, 20, 21, -1, -2, -1, -2, 110, 111, -1, -2, 130, 131]);
    tf.dispose([visible, mt, ids, y]);
  });

  it('restore(gather(x, idsKeep)) equals x at kept positions', () => {
    const x = tokens(2, 4, 2);
    const keep = tf.tensor2d([[2, 0], [3, 1]], [2, 2], 'int32');
    const ids = tf.tensor2d(idsRestoreRows, [2, 4], 'int32');
    const mt = tf.zeros([1, 1, 2]) as tf.Tensor3D;
    const y = tf.tidy(() => restoreTokens(gatherTokens(x, keep), mt, ids));
    const xv = x.arraySync();
    const yv = y.arraySync();
    expect(yv[0]![0]).toEqual(xv[0]![0]);
    expect(yv[0]![2]).toEqual(xv[0]![2]);
    expect(yv[1]![1]).toEqual(xv[1]![1]);
    expect(yv[1]![3]).toEqual(xv[1]![3]);
    expect(yv[0]![1]).toEqual([0, 0]);
    tf.dispose([x, keep, ids, mt, y]);
  });

  it('gradients to visible and to a broadcast mask token (hand example), memory flat', () => {
    const visible = tf.tensor3d([[[20, 21], [0, 1]], [[130, 131], [110, 111]]]);
    const mt = tf.tensor3d([[[-1, -2]]]);
    const ids = tf.tensor2d(idsRestoreRows, [2, 4], 'int32');
    // w[b, i, d] = 10 * (4 b + i) + d
    const wv: number[][][] = [0, 1].map((b) => [0, 1, 2, 3].map((i) => [0, 1].map((d) => 10 * (4 * b + i) + d)));
    const w = tf.tensor3d(wv);
    const before = tf.memory().numTensors;
    const [gv, gm] = tf.grads((a: tf.Tensor, m: tf.Tensor) =>
      restoreTokens(a as tf.Tensor3D, m as tf.Tensor3D, ids),
    )([visible, mt], w);
    // visible[0,0] sits at grid 2 -> w[0,2]; visible[0,1] at grid 0 -> w[0,0];
    // visible[1,0] at grid 3 -> w[1,3]; visible[1,1] at grid 1 -> w[1,1].
    expect(Array.from(gv!.dataSync())).toEqual([20, 21, 0, 1, 70, 71, 50, 51]);
    // mask token: w[0,1] + w[0,3] + w[1,0] + w[1,2]
    expect(Array.from(gm!.dataSync())).toEqual([10 + 30 + 40 + 60, 11 + 31 + 41 + 61]);
    tf.dispose([gv!, gm!]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([visible, mt, ids, w]);
  });

  it('per-position mask tokens [B, L-K, D] get their own gradient', () => {
    const visible = tf.zeros([2, 2, 2]) as tf.Tensor3D;
    const mt = tf.tensor3d([[[1, 1], [2, 2]], [[3, 3], [4, 4]]]);
    const ids = tf.tensor2d(idsRestoreRows, [2, 4], 'int32');
    const wv: number[][][] = [0, 1].map((b) => [0, 1, 2, 3].map((i) => [0, 1].map((d) => 10 * (4 * b + i) + d)));
    const w = tf.tensor3d(wv);
    const y = restoreTokens(visible, mt, ids);
    // sample 0: grid 1 <- full[2] = mt[0,0]; grid 3 <- full[3] = mt[0,1]
    expect((y.arraySync() as number[][][])[0]).toEqual([[0, 0], [1, 1], [0, 0], [2, 2]]);
    const gm = tf.grad((m: tf.Tensor) => restoreTokens(visible, m as tf.Tensor3D, ids))(mt, w);
    // sample 1: grid 2 <- full[3] = mt[1,1]; grid 0 <- full[2] = mt[1,0]
    expect(Array.from(gm.dataSync())).toEqual([10, 11, 30, 31, 40, 41, 60, 61]);
    tf.dispose([visible, mt, ids, w, y, gm]);
  });

  it('every mask-token shape ([1|B, 1|L-K, D]) and K = L: values and gradients vs a JS reference', () => {
    const [B, L, K, D] = [3, 6, 2, 2];
    const restoreRows = [[5, 0, 2, 3, 1, 4], [1, 2, 3, 4, 5, 0], [2, 3, 0, 4, 5, 1]];
    for (const [mb, mn] of [[1, 1], [B, 1], [1, L - K], [B, L - K]] as const) {
      const vis = tokens(B, K, D);
      const mt = tf.tensor3d(Array.from({ length: mb * mn * D }, (_, i) => -1 - i), [mb, mn, D]);
      const ids = tf.tensor2d(restoreRows, [B, L], 'int32');
      const dy = weights([B, L, D]);
      const y = restoreTokens(vis, mt, ids);
      const [gv, gm] = tf.grads((a: tf.Tensor, m: tf.Tensor) => restoreTokens(a as tf.Tensor3D, m as tf.Tensor3D, ids))([vis, mt], dy);
      const visV = vis.dataSync(), mtV = mt.dataSync(), dyV = dy.dataSync();
      const wantY = new Float32Array(B * L * D), wantGv = new Float32Array(B * K * D), wantGm = new Float32Array(mb * mn * D);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < L; i++) {
          const r = restoreRows[b]![i]!;
          for (let d = 0; d < D; d++) {
            const o = (b * L + i) * D + d;
            if (r < K) {
              wantY[o] = visV[(b * K + r) * D + d]!;
              wantGv[(b * K + r) * D + d] += dyV[o]!;
            } else {
              const mi = ((mb === 1 ? 0 : b) * mn + (mn === 1 ? 0 : r - K)) * D + d;
              wantY[o] = mtV[mi]!;
              wantGm[mi] += dyV[o]!;
            }
          }
        }
      }
      expect(Array.from(y.dataSync())).toEqual(Array.from(wantY));
      expect(Array.from(gv!.dataSync())).toEqual(Array.from(wantGv));
      const gmV = gm!.dataSync();
      expect(gm!.shape).toEqual([mb, mn, D]);
      for (let i = 0; i < wantGm.length; i++) expect(gmV[i]!).toBeCloseTo(wantGm[i]!, 5);
      tf.dispose([vis, mt, ids, dy, y, gv!, gm!]);
    }
    // K = L: nothing to fill; the mask token gets a zero gradient
    const vis = tokens(1, 3, 2);
    const mt = tf.ones([1, 1, 2]) as tf.Tensor3D;
    const ids = tf.tensor2d([[2, 0, 1]], [1, 3], 'int32');
    const dy = weights([1, 3, 2]);
    const y = restoreTokens(vis, mt, ids);
    expect(Array.from(y.dataSync())).toEqual([20, 21, 0, 1, 10, 11]);
    const [gv, gm] = tf.grads((a: tf.Tensor, m: tf.Tensor) => restoreTokens(a as tf.Tensor3D, m as tf.Tensor3D, ids))([vis, mt], dy);
    const dyV = dy.dataSync();
    expect(Array.from(gv!.dataSync())).toEqual([dyV[2], dyV[3], dyV[4], dyV[5], dyV[0], dyV[1]]);
    expect(Array.from(gm!.dataSync())).toEqual([0, 0]);
    tf.dispose([vis, mt, ids, dy, y, gv!, gm!]);
  });

  it('rejects bad shapes', () => {
    const visible = tf.zeros([2, 2, 2]) as tf.Tensor3D;
    const ids = tf.tensor2d(idsRestoreRows, [2, 4], 'int32');
    const badMt = tf.zeros([1, 3, 2]) as tf.Tensor3D;
    const badD = tf.zeros([1, 1, 3]) as tf.Tensor3D;
    const short = tf.tensor2d([[0], [0]], [2, 1], 'int32');
    const mt = tf.zeros([1, 1, 2]) as tf.Tensor3D;
    expect(() => restoreTokens(visible, badMt, ids)).toThrow(/maskTokens shape \[1, 3, 2\] must be \[1\|2, 1\|2, 2\]/);
    expect(() => restoreTokens(visible, badD, ids)).toThrow(/maskTokens shape \[1, 1, 3\]/);
    expect(() => restoreTokens(visible, mt, short)).toThrow(/idsRestore length 1 must be >= the number of visible tokens 2/);
    tf.dispose([visible, ids, badMt, badD, short, mt]);
  });
});

describe('gatherTokens + restoreTokens in an MAE-like chain', () => {
  it('gradients through a composed loss match a JS reference and finite differences; memory flat', () => {
    // y = restore(2 * gather(x, keep), m, restore); loss = sum(w * y^2)
    const [B, L, K, D] = [2, 5, 2, 3];
    const keepRows = [[3, 1], [0, 4]];
    // idsShuffle rows: [3, 1, 0, 2, 4] and [0, 4, 1, 2, 3]; idsRestore = inverse
    const shuffleRows = [[3, 1, 0, 2, 4], [0, 4, 1, 2, 3]];
    const restoreRows = shuffleRows.map((s) => {
      const r = new Array<number>(L);
      s.forEach((v, i) => (r[v] = i));
      return r;
    });
    const x = tf.variable(tf.tensor3d(Array.from({ length: B * L * D }, (_, i) => Math.cos(i)), [B, L, D]));
    const m = tf.variable(tf.tensor3d([[[0.5, -1, 2]]]));
    const keep = tf.tensor2d(keepRows, [B, K], 'int32');
    const restore = tf.tensor2d(restoreRows, [B, L], 'int32');
    const w = weights([B, L, D]);
    const loss = () =>
      tf.tidy(() => {
        const y = restoreTokens(tf.mul(gatherTokens(x, keep), 2) as tf.Tensor3D, m, restore);
        return tf.sum(tf.mul(w, tf.square(y))) as tf.Scalar;
      });
    tf.dispose(tf.variableGrads(loss)); // warm-up (kernels, registrations)
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(loss, [x, m]);
    // JS reference: grid i of sample b holds 2 x[b, keep[b][r]] if r = restore[b][i] < K, else m.
    const xv = x.dataSync(), mv = m.dataSync(), wv = w.dataSync();
    const gx = new Float32Array(B * L * D);
    const gm = new Float32Array(D);
    let lossRef = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < L; i++) {
        const r = restoreRows[b]![i]!;
        for (let d = 0; d < D; d++) {
          const wi = wv[(b * L + i) * D + d]!;
          if (r < K) {
            const src = (b * L + keepRows[b]![r]!) * D + d;
            const y = 2 * xv[src]!;
            lossRef += wi * y * y;
            gx[src] += wi * 2 * y * 2;
          } else {
            lossRef += wi * mv[d]! * mv[d]!;
            gm[d] += wi * 2 * mv[d]!;
          }
        }
      }
    }
    expect(value.dataSync()[0]!).toBeCloseTo(lossRef, 4);
    const gotX = grads[x.name]!.dataSync();
    const gotM = grads[m.name]!.dataSync();
    for (let i = 0; i < gx.length; i++) expect(gotX[i]!).toBeCloseTo(gx[i]!, 5);
    for (let d = 0; d < D; d++) expect(gotM[d]!).toBeCloseTo(gm[d]!, 5);
    tf.dispose([value, grads]);
    expect(tf.memory().numTensors).toBe(before);
    // finite differences on a few coordinates of m
    const eps = 1e-2;
    for (const d of [0, 2]) {
      const base = Array.from(mv);
      const at = (delta: number) => {
        const v = base.slice();
        v[d]! += delta;
        tf.tidy(() => m.assign(tf.tensor3d([[v]])));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      tf.tidy(() => m.assign(tf.tensor3d([[base]])));
      expect(gotM[d]!).toBeCloseTo(fd, 1);
    }
    tf.dispose([x, m, keep, restore, w]);
  });
});
