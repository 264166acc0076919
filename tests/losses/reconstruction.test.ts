import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  maskedCrossEntropy,
  maskedL1Loss,
  maskedMseLoss,
  normalizedPixelTargets,
} from '../../src/losses/index.js';
import { Rng } from '../../src/utils/random.js';
import {
  CONFORMANCE_DIR,
  expectClose,
  expectNoLeak,
  randn,
  readSafetensors,
  stTensor,
  tolerance,
} from './helpers.js';

// ---- independent plain-JS references -------------------------------------

function refNormalize(v: number[], eps = 1e-6): number[] {
  const k = v.length;
  const mean = v.reduce((a, b) => a + b, 0) / k;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (k - 1);
  return v.map((x) => (x - mean) / Math.sqrt(variance + eps));
}

/** pred/target flat [B*L*K], mask flat [B*L]. */
function refMaskedMse(pred: number[], target: number[], mask: number[], k: number): number {
  let num = 0;
  let den = 0;
  for (let l = 0; l < mask.length; l++) {
    let se = 0;
    for (let j = 0; j < k; j++) se += (pred[l * k + j]! - target[l * k + j]!) ** 2;
    num += (se / k) * mask[l]!;
    den += mask[l]!;
  }
  return num / den;
}

/** NHWC x/xr flat, mask [B, h, w] flat; upsample explicitly. */
function refMaskedL1(x: number[], xr: number[], mask: number[], b: number, hh: number, ww: number, c: number, mh: number, mw: number): number {
  const py = hh / mh;
  const px = ww / mw;
  let num = 0;
  let den = 0;
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < hh; y++) {
      for (let xx = 0; xx < ww; xx++) {
        const m = mask[(n * mh + Math.floor(y / py)) * mw + Math.floor(xx / px)]!;
        den += m;
        for (let ch = 0; ch < c; ch++) {
          const i = ((n * hh + y) * ww + xx) * c + ch;
          num += Math.abs(x[i]! - xr[i]!) * m;
        }
      }
    }
  }
  return num / (den + 1e-5) / c;
}

function refCrossEntropy(logits: number[], labels: number[], v: number, ignore: number): number {
  let sum = 0;
  let count = 0;
  labels.forEach((lab, r) => {
    if (lab === ignore) return;
    const row = logits.slice(r * v, (r + 1) * v);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, b) => a + Math.exp(b - mx), 0));
    sum += lse - row[lab]!;
    count++;
  });
  return sum / count;
}

function randomMask(seed: number, n: number, ratio = 0.5): number[] {
  const r = new Rng(seed);
  const m = Array.from({ length: n }, () => (r.uniform() < ratio ? 1 : 0));
  if (!m.includes(1)) m[0] = 1;
  return m;
}

// ---- normalizedPixelTargets ----------------------------------------------

describe('normalizedPixelTargets', () => {
  it.each([
    [2, 3, 4],
    [1, 5, 48],
    [3, 2, 2],
  ])('matches per-patch (v - mean)/sqrt(unbiased var + 1e-6) for B=%i L=%i K=%i', (b, l, k) => {
    const data = randn(b * 100 + k, b * l * k, 2);
    const out = normalizedPixelTargets(tf.tensor3d(data, [b, l, k]));
    const want: number[] = [];
    for (let i = 0; i < b * l; i++) want.push(...refNormalize(data.slice(i * k, (i + 1) * k)));
    expectClose(out.dataSync(), want, 1e-5, 1e-4);
    out.dispose();
  });

  it('uses the unbiased variance (K - 1), by a hand example', () => {
    // v = [1, 3]: mean 2, unbiased var 2, so targets -+1/sqrt(2 + eps).
    const out = normalizedPixelTargets(tf.tensor2d([[1, 3]]), { eps: 1e-6 });
    const s = 1 / Math.sqrt(2 + 1e-6);
    expectClose(out.dataSync(), [-s, s], 1e-7, 1e-6);
    out.dispose();
  });

  it('rejects bad input', () => {
    expect(() => normalizedPixelTargets(tf.zeros([2, 1]))).toThrow(/patches must have at least 2 values per patch.*\[2,1\]/);
    expect(() => normalizedPixelTargets(tf.zeros([2, 4]), { eps: 0 })).toThrow(/options\.eps must be a finite number > 0, got 0/);
    expect(() => normalizedPixelTargets(tf.zeros([2, 4], 'int32'))).toThrow(/patches must be a float32 tensor, got dtype int32/);
  });
});

// ---- maskedMseLoss ----------------------------------------------------------

describe('maskedMseLoss', () => {
  it.each([
    [1, 4, 3],
    [2, 16, 48],
    [3, 7, 12],
  ])('matches the reference for B=%i L=%i K=%i, float and bool masks', (b, l, k) => {
    const pred = randn(1 + b, b * l * k);
    const target = randn(2 + l, b * l * k);
    const mask = randomMask(3 + k, b * l);
    const want = refMaskedMse(pred, target, mask, k);
    const p = tf.tensor3d(pred, [b, l, k]);
    const t = tf.tensor3d(target, [b, l, k]);
    const mf = tf.tensor2d(mask, [b, l]);
    const mb = tf.tensor2d(mask, [b, l], 'bool');
    expectNoLeak(() => {
      const a = maskedMseLoss(p, t, mf);
      const c = maskedMseLoss(p, t, mb);
      expectClose(a.dataSync(), [want]);
      expectClose(c.dataSync(), [want]);
      return [a, c];
    });
    // norm_pix_loss: the reference with normalised targets.
    const normT: number[] = [];
    for (let i = 0; i < b * l; i++) normT.push(...refNormalize(target.slice(i * k, (i + 1) * k)));
    expectNoLeak(() => {
      const n = maskedMseLoss(p, t, mf, { normPixLoss: true });
      expectClose(n.dataSync(), [refMaskedMse(pred, normT, mask, k)]);
      return n;
    });
    tf.dispose([p, t, mf, mb]);
  });

  it('hand example: only the removed patch counts', () => {
    // patch 0 kept (error 100), patch 1 removed: mean((1-0)^2, (3-0)^2) = 5.
    const pred = tf.tensor3d([[[10, 10], [1, 3]]]);
    const target = tf.zeros([1, 2, 2]);
    const loss = maskedMseLoss(pred, target, tf.tensor2d([[0, 1]]));
    expect(loss.dataSync()[0]).toBeCloseTo(5, 6);
  });

  it('gradient reaches pred only on removed patches, equal to 2 (pred - target) / (K sum(mask))', () => {
    const b = 2;
    const l = 5;
    const k = 4;
    const pred = randn(7, b * l * k);
    const target = randn(8, b * l * k);
    const mask = randomMask(9, b * l);
    const p = tf.tensor3d(pred, [b, l, k]);
    const t = tf.tensor3d(target, [b, l, k]);
    const m = tf.tensor2d(mask, [b, l]);
    const before = tf.memory().numTensors;
    const g = tf.grad((x: tf.Tensor) => maskedMseLoss(x, t, m))(p);
    const msum = mask.reduce((a, c) => a + c, 0);
    const want = pred.map((v, i) => (mask[Math.floor(i / k)]! * 2 * (v - target[i]!)) / (k * msum));
    expectClose(g.dataSync(), want, 1e-6, 1e-4);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([p, t, m]);
  });

  it('reproduces the MAE conformance loss from its pred, mask and image', () => {
    const f = readSafetensors(`${CONFORMANCE_DIR}/mae.safetensors`);
    const cfg = f.config as { patch_size: number; norm_pix_loss: boolean };
    const imgs = f.tensors.get('input.imgs')!;
    const [b, c, s] = imgs.shape as [number, number, number, number];
    const p = cfg.patch_size;
    const g = s / p;
    // Patchify NCHW in MAE's order: element (i*p + j)*C + ch of patch (R, C).
    const patches = new Float32Array(b * g * g * p * p * c);
    let o = 0;
    for (let n = 0; n < b; n++)
      for (let R = 0; R < g; R++)
        for (let C = 0; C < g; C++)
          for (let i = 0; i < p; i++)
            for (let j = 0; j < p; j++)
              for (let ch = 0; ch < c; ch++) patches[o++] = imgs.data[((n * c + ch) * s + R * p + i) * s + C * p + j]!;
    const target = tf.tensor3d(patches, [b, g * g, p * p * c]);
    const pred = stTensor(f, 'expect.pred');
    const mask = stTensor(f, 'expect.mask');
    const loss = maskedMseLoss(pred, target, mask, { normPixLoss: cfg.norm_pix_loss });
    const { atol, rtol } = tolerance(f);
    expectClose(loss.dataSync(), f.tensors.get('expect.loss')!.data, atol, rtol);
    tf.dispose([target, pred, mask, loss]);
  });

  it('rejects bad input before computing', () => {
    const p = tf.zeros([2, 4, 3]);
    expect(() => maskedMseLoss(p, tf.zeros([2, 4, 2]), tf.zeros([2, 4]))).toThrow(
      /maskedMseLoss: target must have the shape of pred \[2, 4, 3\], got \[2, 4, 2\]/,
    );
    expect(() => maskedMseLoss(p, p, tf.zeros([2, 3]))).toThrow(/mask must have shape \[2, 4\].*got \[2, 3\]/);
    expect(() => maskedMseLoss(tf.zeros([3]), tf.zeros([3]), tf.zeros([1]))).toThrow(/pred must have rank >= 2/);
  });
});

// ---- maskedL1Loss -----------------------------------------------------------

describe('maskedL1Loss', () => {
  it.each([
    [2, 16, 16, 3, 4, 4],
    [1, 8, 12, 1, 2, 3],
    [2, 6, 6, 2, 6, 6],
  ])('matches the reference for B=%i H=%i W=%i C=%i, mask %ix%i', (b, hh, ww, c, mh, mw) => {
    const x = randn(11 + c, b * hh * ww * c);
    const xr = randn(12 + hh, b * hh * ww * c);
    const mask = randomMask(13 + mw, b * mh * mw);
    const want = refMaskedL1(x, xr, mask, b, hh, ww, c, mh, mw);
    const tx = tf.tensor4d(x, [b, hh, ww, c]);
    const tr = tf.tensor4d(xr, [b, hh, ww, c]);
    const tm = tf.tensor3d(mask, [b, mh, mw]);
    expectNoLeak(() => {
      const l = maskedL1Loss(tx, tr, tm, c);
      expectClose(l.dataSync(), [want]);
      return l;
    });
    tf.dispose([tx, tr, tm]);
  });

  it('gradient reaches xRec only on masked pixels', () => {
    const x = tf.tensor4d(randn(1, 2 * 4 * 4 * 2), [2, 4, 4, 2]);
    const xr = tf.tensor4d(randn(2, 2 * 4 * 4 * 2), [2, 4, 4, 2]);
    const mask = [1, 0, 0, 0, 0, 1, 1, 0];
    const m = tf.tensor3d(mask, [2, 2, 2]);
    const before = tf.memory().numTensors;
    const g = tf.grad((r: tf.Tensor) => maskedL1Loss(x, r, m))(xr);
    const gd = g.dataSync();
    const xd = x.dataSync();
    const rd = xr.dataSync();
    const den = 3 * 4 + 1e-5;
    for (let i = 0; i < gd.length; i++) {
      const n = Math.floor(i / 32);
      const y = Math.floor((i % 32) / 8);
      const xx = Math.floor((i % 8) / 2);
      const mv = mask[n * 4 + Math.floor(y / 2) * 2 + Math.floor(xx / 2)]!;
      const want = (mv * Math.sign(rd[i]! - xd[i]!)) / den / 2;
      expect(gd[i]).toBeCloseTo(want, 6);
    }
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reproduces the SimMIM conformance loss from its x, x_rec and mask', () => {
    const f = readSafetensors(`${CONFORMANCE_DIR}/simmim.safetensors`);
    const toNhwc = (n: string) => tf.tidy(() => tf.transpose(stTensor(f, n), [0, 2, 3, 1]));
    const x = toNhwc('input.x');
    const xr = toNhwc('expect.x_rec');
    const m = stTensor(f, 'input.mask');
    const loss = maskedL1Loss(x, xr, m, f.config.in_chans as number);
    const { atol, rtol } = tolerance(f);
    expectClose(loss.dataSync(), f.tensors.get('expect.loss')!.data, atol, rtol);
    tf.dispose([x, xr, m, loss]);
  });

  it('rejects bad input', () => {
    const x = tf.zeros([2, 8, 8, 3]);
    expect(() => maskedL1Loss(x, x, tf.zeros([2, 3, 4]))).toThrow(/mask must be \[B=2, h, w\] with h dividing H=8.*got \[2, 3, 4\]/);
    expect(() => maskedL1Loss(x, tf.zeros([2, 8, 8, 1]), tf.zeros([2, 4, 4]))).toThrow(/xRec must have the shape of x/);
    expect(() => maskedL1Loss(x, x, tf.zeros([2, 4, 4]), 1)).toThrow(/inChans must equal the channel count of x.*3, got 1/);
    expect(() => maskedL1Loss(tf.zeros([2, 8, 8]), x, tf.zeros([2, 4, 4]))).toThrow(/x must have rank 4/);
  });
});

// ---- maskedCrossEntropy -----------------------------------------------------

describe('maskedCrossEntropy', () => {
  it.each([
    [5, 3, 1],
    [12, 64, 10],
    [4, 1000, 30],
  ])('matches the reference for M=%i V=%i logit scale %f', (m, v, scale) => {
    const logits = randn(m + v, m * v, scale);
    const r = new Rng(v);
    const labels = Array.from({ length: m }, () => r.randint(0, v - 1));
    const lt = tf.tensor2d(logits, [m, v]);
    const lab = tf.tensor1d(labels, 'int32');
    expectNoLeak(() => {
      const l = maskedCrossEntropy(lt, lab);
      expectClose(l.dataSync(), [refCrossEntropy(logits, labels, v, -100)], 1e-5, 1e-5);
      return l;
    });
    // The same rows inside a [B, L, V] map with the others ignored.
    const ignored = labels.map((x, i) => (i % 3 === 1 ? -100 : x));
    const lab2 = tf.tensor2d(ignored, [1, m], 'int32');
    const l3 = tf.reshape(lt, [1, m, v]);
    const l = maskedCrossEntropy(l3, lab2);
    expectClose(l.dataSync(), [refCrossEntropy(logits, ignored, v, -100)], 1e-5, 1e-5);
    tf.dispose([lt, lab, lab2, l3, l]);
  });

  it('is stable for huge logits and honours a custom ignoreIndex', () => {
    const l = maskedCrossEntropy(tf.tensor2d([[1000, 0], [0, 1000], [5, 5]]), tf.tensor1d([0, 0, 1], 'int32'), {
      ignoreIndex: 0,
    });
    // Only row 2 counts: -log_softmax([5, 5])[1] = ln 2.
    expect(l.dataSync()[0]).toBeCloseTo(Math.LN2, 6);
    const big = maskedCrossEntropy(tf.tensor2d([[1000, 0]]), tf.tensor1d([1], 'int32'));
    expect(big.dataSync()[0]).toBeCloseTo(1000, 3);
  });

  it('gradient is (softmax - onehot) / M on counted rows, zero on ignored rows', () => {
    const m = 4;
    const v = 5;
    const logits = randn(3, m * v);
    const labels = [2, -100, 0, 4];
    const lt = tf.tensor2d(logits, [m, v]);
    const lab = tf.tensor1d(labels, 'int32');
    const before = tf.memory().numTensors;
    const g = tf.grad((x: tf.Tensor) => maskedCrossEntropy(x, lab))(lt);
    const want: number[] = [];
    for (let r = 0; r < m; r++) {
      const row = logits.slice(r * v, (r + 1) * v);
      const z = row.reduce((a, b) => a + Math.exp(b), 0);
      for (let j = 0; j < v; j++) {
        want.push(labels[r] === -100 ? 0 : (Math.exp(row[j]!) / z - (j === labels[r] ? 1 : 0)) / 3);
      }
    }
    expectClose(g.dataSync(), want, 1e-6, 1e-4);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([lt, lab]);
  });

  it('reproduces the BEiT conformance loss from its logits and labels', () => {
    const f = readSafetensors(`${CONFORMANCE_DIR}/beit_mim.safetensors`);
    const logits = stTensor(f, 'expect.logits');
    const labels = stTensor(f, 'input.labels');
    const loss = maskedCrossEntropy(logits, labels);
    const { atol, rtol } = tolerance(f);
    expectClose(loss.dataSync(), f.tensors.get('expect.loss')!.data, atol, rtol);
    tf.dispose([logits, labels, loss]);
  });

  it('rejects bad input', () => {
    const lg = tf.zeros([4, 10]);
    expect(() => maskedCrossEntropy(lg, tf.zeros([3], 'int32'))).toThrow(/labels must have shape \[4\].*got \[3\]/);
    expect(() => maskedCrossEntropy(lg, tf.zeros([4]))).toThrow(/labels must be an int32 tensor of class ids, got dtype float32/);
    expect(() => maskedCrossEntropy(lg, tf.zeros([4], 'int32'), { ignoreIndex: 0.5 })).toThrow(/ignoreIndex must be an integer, got 0.5/);
  });
});
