import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  barlowTwinsLoss,
  CLIP_MAX_LOG_LOGIT_SCALE,
  clampLogitScale,
  clipLoss,
  infoNCELoss,
  mocoV3Loss,
} from '../../src/losses/index.js';
import { absSum, expectClose, expectNoLeak, numericGrad, randMatrix } from './helpers.js';

// ---- independent plain-JS references (float64) ----------------------------

type M = number[][];
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
const normRows = (x: M, eps = 1e-12) =>
  x.map((r) => {
    const n = Math.max(Math.sqrt(dot(r, r)), eps);
    return r.map((v) => v / n);
  });
const lse = (r: number[]) => {
  const m = Math.max(...r);
  return m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
};
/** Mean over rows of -log_softmax(row)[target(row)]. */
const ce = (logits: M, target: (i: number) => number) =>
  logits.reduce((s, r, i) => s + lse(r) - r[target(i)]!, 0) / logits.length;
const simMatrix = (a: M, b: M) => a.map((r) => b.map((c) => dot(r, c)));
const flat = (x: M) => x.flat();
const unflat = (v: number[], rows: number, cols: number): M =>
  Array.from({ length: rows }, (_, i) => v.slice(i * cols, (i + 1) * cols));

function refInfoNCE(q: M, k: M, t: number, negatives?: M, normalize = true): number {
  const qn = normalize ? normRows(q) : q;
  const kn = normalize ? normRows(k) : k;
  if (!negatives) return ce(simMatrix(qn, kn).map((r) => r.map((v) => v / t)), (i) => i);
  const nn = normalize ? normRows(negatives) : negatives;
  const logits = qn.map((r, i) => [dot(r, kn[i]!), ...nn.map((n) => dot(r, n))].map((v) => v / t));
  return ce(logits, () => 0);
}

function refClip(img: M, txt: M, logScale: number): { loss: number; lpi: M } {
  const s = Math.exp(logScale);
  const lpi = simMatrix(img, txt).map((r) => r.map((v) => v * s));
  const lpt = lpi[0]!.map((_, j) => lpi.map((r) => r[j]!));
  return { loss: (ce(lpi, (i) => i) + ce(lpt, (i) => i)) / 2, lpi };
}

function refMocoCtr(q: M, k: M, t: number): number {
  return ce(simMatrix(normRows(q), normRows(k)).map((r) => r.map((v) => v / t)), (i) => i) * 2 * t;
}

function refBarlow(z1: M, z2: M, lambda: number, eps = 1e-5): number {
  const n = z1.length;
  const d = z1[0]!.length;
  const bn = (z: M) => {
    const out = z.map((r) => r.slice());
    for (let j = 0; j < d; j++) {
      const mean = z.reduce((s, r) => s + r[j]!, 0) / n;
      const variance = z.reduce((s, r) => s + (r[j]! - mean) ** 2, 0) / n;
      for (let i = 0; i < n; i++) out[i]![j] = (z[i]![j]! - mean) / Math.sqrt(variance + eps);
    }
    return out;
  };
  const a = bn(z1);
  const b = bn(z2);
  let loss = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let c = 0;
      for (let r = 0; r < n; r++) c += a[r]![i]! * b[r]![j]!;
      c /= n;
      loss += i === j ? (1 - c) ** 2 : lambda * c * c;
    }
  }
  return loss;
}

const t2 = (x: M) => tf.tensor2d(x);

// ---- infoNCELoss --------------------------------------------------------

describe('infoNCELoss', () => {
  it.each([
    [3, 4, 0.07],
    [8, 16, 0.1],
    [5, 6, 0.5],
  ])('in-batch negatives match the reference (N=%i D=%i T=%f)', (n, d, t) => {
    const q = randMatrix(n * 10 + d, n, d);
    const k = randMatrix(n * 20 + d, n, d);
    const qt = t2(q);
    const kt = t2(k);
    expectNoLeak(() => {
      const l = infoNCELoss(qt, kt, { temperature: t });
      const u = infoNCELoss(qt, kt, { temperature: t, normalize: false });
      expectClose(l.dataSync(), [refInfoNCE(q, k, t)], 1e-5, 1e-4);
      expectClose(u.dataSync(), [refInfoNCE(q, k, t, undefined, false)], 1e-4, 1e-4);
      return [l, u];
    });
    tf.dispose([qt, kt]);
  });

  it.each([
    [4, 8, 16, 0.07],
    [2, 3, 5, 0.2],
  ])('a negatives queue puts the positive in column 0 (N=%i D=%i K=%i T=%f)', (n, d, kq, t) => {
    const q = randMatrix(1 + n, n, d);
    const k = randMatrix(2 + n, n, d);
    const neg = randMatrix(3 + kq, kq, d);
    const [qt, kt, nt] = [t2(q), t2(k), t2(neg)];
    expectNoLeak(() => {
      const l = infoNCELoss(qt, kt, { temperature: t, negatives: nt });
      expectClose(l.dataSync(), [refInfoNCE(q, k, t, neg)], 1e-5, 1e-4);
      return l;
    });
    tf.dispose([qt, kt, nt]);
  });

  it('gradients: to queries and keys, none to keys with stopGradientKeys nor to the queue; matches finite differences', () => {
    const n = 4;
    const d = 5;
    const t = 0.2;
    const q = randMatrix(41, n, d);
    const k = randMatrix(42, n, d);
    const neg = randMatrix(43, 6, d);
    const [qt, kt, nt] = [t2(q), t2(k), t2(neg)];
    const before = tf.memory().numTensors;
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => infoNCELoss(a, b, { temperature: t, negatives: c }))([qt, kt, nt]);
    const idx = [0, 3, 7, 19];
    const fd = numericGrad((v) => refInfoNCE(unflat(v, n, d), k, t, neg), flat(q), idx);
    expectClose(idx.map((i) => g[0]!.dataSync()[i]!), fd, 1e-4, 1e-3);
    expect(absSum(g[1]!)).toBeGreaterThan(1e-4);
    expect(absSum(g[2]!)).toBe(0);
    const g2 = tf.grads((a: tf.Tensor, b: tf.Tensor) => infoNCELoss(a, b, { stopGradientKeys: true }))([qt, kt]);
    expect(absSum(g2[0]!)).toBeGreaterThan(1e-4);
    expect(absSum(g2[1]!)).toBe(0);
    tf.dispose([...g, ...g2]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([qt, kt, nt]);
  });

  it('rejects bad input', () => {
    const q = tf.zeros([4, 8]);
    expect(() => infoNCELoss(q, q, { temperature: 0 })).toThrow(/infoNCELoss: options.temperature must be a finite number > 0, got 0/);
    expect(() => infoNCELoss(q, q, { temperature: -0.1 })).toThrow(/temperature.*got -0.1/);
    expect(() => infoNCELoss(q, tf.zeros([3, 8]))).toThrow(/keys must have the shape of query \[4, 8\], got \[3, 8\]/);
    expect(() => infoNCELoss(q, q, { negatives: tf.zeros([10, 7]) })).toThrow(/negatives must be \[K, D=8\], got \[10, 7\]/);
    expect(() => infoNCELoss(tf.zeros([4]), q)).toThrow(/query must have rank 2/);
  });
});

// ---- clipLoss -----------------------------------------------------------

describe('clipLoss', () => {
  it.each([
    [2, 3, Math.log(1 / 0.07)],
    [5, 8, 0],
    [4, 16, Math.log(100)],
    [3, 4, 1.3],
  ])('matches open_clip ClipLoss (B=%i E=%i logit_scale=%f)', (b, e, ls) => {
    const img = normRows(randMatrix(b + e, b, e));
    const txt = normRows(randMatrix(b * e, b, e));
    const want = refClip(img, txt, ls);
    const [it_, tt, st] = [t2(img), t2(txt), tf.scalar(ls)];
    expectNoLeak(() => {
      const out = clipLoss(it_, tt, st);
      expectClose(out.loss.dataSync(), [want.loss], 1e-5, 1e-4);
      expectClose(out.logitsPerImage.dataSync(), flat(want.lpi), 1e-4, 1e-4);
      const lpt = want.lpi[0]!.map((_, j) => want.lpi.map((r) => r[j]!));
      expectClose(out.logitsPerText.dataSync(), flat(lpt), 1e-4, 1e-4);
      return [out.loss, out.logitsPerImage, out.logitsPerText];
    });
    tf.dispose([it_, tt, st]);
  });

  it('normalize: true l2-normalises raw features first', () => {
    const img = randMatrix(1, 3, 6, 3);
    const txt = randMatrix(2, 3, 6, 0.5);
    const out = clipLoss(t2(img), t2(txt), tf.scalar(2), { normalize: true });
    expectClose(out.loss.dataSync(), [refClip(normRows(img), normRows(txt), 2).loss], 1e-5, 1e-4);
  });

  it('the gradient reaches the log scale (finite differences) and both feature sets', () => {
    const img = normRows(randMatrix(5, 4, 6));
    const txt = normRows(randMatrix(6, 4, 6));
    const v = tf.variable(tf.scalar(1.1));
    const [it_, tt] = [t2(img), t2(txt)];
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => clipLoss(it_, tt, v).loss, [v]);
    const fd = numericGrad((x) => refClip(img, txt, x[0]!).loss, [1.1], [0]);
    expectClose(grads[v.name]!.dataSync(), fd, 1e-4, 1e-3);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => clipLoss(a, b, v).loss)([it_, tt]);
    expect(absSum(g[0]!)).toBeGreaterThan(1e-4);
    expect(absSum(g[1]!)).toBeGreaterThan(1e-4);
    tf.dispose([value, grads[v.name]!, ...g]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([it_, tt, v]);
  });

  it('maxLogLogitScale clamps in the forward pass (value at the bound, zero gradient above it)', () => {
    const img = normRows(randMatrix(7, 3, 4));
    const txt = normRows(randMatrix(8, 3, 4));
    const v = tf.variable(tf.scalar(6));
    const { value, grads } = tf.variableGrads(
      () => clipLoss(t2(img), t2(txt), v, { maxLogLogitScale: CLIP_MAX_LOG_LOGIT_SCALE }).loss,
      [v],
    );
    expectClose(value.dataSync(), [refClip(img, txt, Math.log(100)).loss], 1e-5, 1e-4);
    expect(grads[v.name]!.dataSync()[0]).toBe(0);
  });

  it('clampLogitScale clamps a tf.Variable and a LayerVariable in place to [0, ln 100]', () => {
    const v = tf.variable(tf.scalar(7));
    clampLogitScale(v);
    expect(v.dataSync()[0]).toBeCloseTo(Math.log(100), 6);
    v.assign(tf.scalar(-2));
    clampLogitScale(v);
    expect(v.dataSync()[0]).toBe(0);
    v.assign(tf.scalar(2.5));
    clampLogitScale(v);
    expect(v.dataSync()[0]).toBeCloseTo(2.5, 6);
    const lv = new LayerVariable(tf.tensor1d([9]), 'float32', 'logit_scale');
    clampLogitScale(lv, 3);
    expect(lv.read().dataSync()[0]).toBe(3);
    expect(() => clampLogitScale(v, -1)).toThrow(/need finite min <= max, got min=0, max=-1/);
  });

  it('rejects bad input', () => {
    const a = tf.zeros([4, 8]);
    expect(() => clipLoss(a, tf.zeros([3, 8]), tf.scalar(1))).toThrow(
      /textFeatures must have the shape of imageFeatures \[4, 8\].*got \[3, 8\]/,
    );
    expect(() => clipLoss(a, a, tf.zeros([2]))).toThrow(/logitScale must be a one-element tensor.*got shape \[2\]/);
    expect(() => clipLoss(a, a, tf.scalar(1), { maxLogLogitScale: NaN })).toThrow(/maxLogLogitScale must be a finite number, got NaN/);
    // exp(logit_scale) passed instead of the log: refused, not a loss of 1e6.
    const before = tf.memory().numTensors;
    const scale = tf.scalar(1 / 0.07);
    expect(() => clipLoss(a, a, scale)).toThrow(/logitScale must be the LOG of the logit scale.*got 14\.28.*exp\(logit_scale\) passed instead/);
    const nan = tf.scalar(NaN);
    expect(() => clipLoss(a, a, nan)).toThrow(/logitScale must be the LOG/);
    expect(tf.memory().numTensors).toBe(before + 2);
    const out = clipLoss(a, a, scale, { checkLogitScale: false });
    expect(Number.isFinite(out.loss.dataSync()[0]!)).toBe(true);
    tf.dispose([scale, nan, out.loss, out.logitsPerImage, out.logitsPerText]);
  });
});

// ---- mocoV3Loss ---------------------------------------------------------

describe('mocoV3Loss', () => {
  it.each([
    [4, 16, 0.2],
    [6, 3, 0.1],
    [2, 8, 1.0],
  ])('matches ctr(q1,k2) + ctr(q2,k1), each times 2T (N=%i D=%i T=%f)', (n, d, t) => {
    const [q1, q2, k1, k2] = [1, 2, 3, 4].map((s) => randMatrix(s * 100 + n + d, n, d));
    const ts = [q1, q2, k1, k2].map(t2) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const a = refMocoCtr(q1!, k2!, t);
    const b = refMocoCtr(q2!, k1!, t);
    expectNoLeak(() => {
      const out = mocoV3Loss(...ts, { temperature: t });
      expectClose(out.lossQ1K2.dataSync(), [a], 1e-5, 1e-4);
      expectClose(out.lossQ2K1.dataSync(), [b], 1e-5, 1e-4);
      expectClose(out.loss.dataSync(), [a + b], 1e-5, 1e-4);
      return [out.loss, out.lossQ1K2, out.lossQ2K1];
    });
    tf.dispose(ts);
  });

  it('keys get no gradient by default (momentum encoder), queries match finite differences', () => {
    const n = 3;
    const d = 4;
    const [q1, q2, k1, k2] = [5, 6, 7, 8].map((s) => randMatrix(s, n, d));
    const ts = [q1, q2, k1, k2].map(t2) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const before = tf.memory().numTensors;
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => mocoV3Loss(a, b, c, e).loss)(ts);
    const idx = [0, 5, 11];
    const fd = numericGrad((v) => refMocoCtr(unflat(v, n, d), k2!, 0.2) + refMocoCtr(q2!, k1!, 0.2), flat(q1!), idx);
    expectClose(idx.map((i) => g[0]!.dataSync()[i]!), fd, 1e-4, 1e-3);
    expect(absSum(g[1]!)).toBeGreaterThan(1e-4);
    expect(absSum(g[2]!)).toBe(0);
    expect(absSum(g[3]!)).toBe(0);
    const g2 = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor) =>
      mocoV3Loss(a, b, c, e, { stopGradientKeys: false }).loss,
    )(ts);
    expect(absSum(g2[3]!)).toBeGreaterThan(1e-4);
    tf.dispose([...g, ...g2]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(ts);
  });

  it('rejects bad input', () => {
    const a = tf.zeros([4, 8]);
    expect(() => mocoV3Loss(a, a, a, tf.zeros([4, 7]))).toThrow(/mocoV3Loss: k2 must have the shape of q1 \[4, 8\], got \[4, 7\]/);
    expect(() => mocoV3Loss(a, a, a, a, { temperature: 0 })).toThrow(/options.temperature must be a finite number > 0, got 0/);
  });
});

// ---- barlowTwinsLoss ------------------------------------------------------

describe('barlowTwinsLoss', () => {
  it.each([
    [8, 4, 5e-3],
    [5, 6, 0],
    [16, 3, 1],
  ])('matches the reference (N=%i D=%i lambda=%f)', (n, d, lambda) => {
    const z1 = randMatrix(n + d, n, d);
    const z2 = randMatrix(n * d, n, d, 2);
    const [a, b] = [t2(z1), t2(z2)];
    expectNoLeak(() => {
      const l = barlowTwinsLoss(a, b, { lambda });
      expectClose(l.dataSync(), [refBarlow(z1, z2, lambda)], 1e-4, 1e-4);
      return l;
    });
    tf.dispose([a, b]);
  });

  it('is ~0 on the diagonal term when both views are equal, and has gradients for both', () => {
    const z = randMatrix(3, 32, 2);
    const a = t2(z);
    // Equal views: C_ii = var/(var+eps) ~ 1, so only the off-diagonal term remains.
    const l = barlowTwinsLoss(a, a, { lambda: 0 });
    expect(l.dataSync()[0]).toBeLessThan(1e-3);
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => barlowTwinsLoss(x, y))([a, t2(randMatrix(4, 32, 2))]);
    expect(absSum(g[0]!)).toBeGreaterThan(1e-4);
    expect(absSum(g[1]!)).toBeGreaterThan(1e-4);
  });

  it('rejects bad input', () => {
    expect(() => barlowTwinsLoss(tf.zeros([1, 4]), tf.zeros([1, 4]))).toThrow(/at least 2 rows.*\[1, 4\]/);
    expect(() => barlowTwinsLoss(tf.zeros([4, 4]), tf.zeros([4, 3]))).toThrow(/z2 must have the shape of z1/);
    expect(() => barlowTwinsLoss(tf.zeros([4, 4]), tf.zeros([4, 4]), { lambda: -1 })).toThrow(/options.lambda must be a finite number >= 0, got -1/);
  });
});
