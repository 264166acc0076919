import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Attention, Block, causalMask, combineMasks, keyPaddingMask, MASK_VALUE } from '../../src/layers/index.js';
import { expectClose, seededNormal } from './helpers.js';

/** q = k = v = x, identity output projection, zero biases. */
function identityAttention(dim: number, numHeads: number): Attention {
  const a = new Attention({ dim, numHeads, qkvBias: 'none' });
  const eye = tf.eye(dim);
  a.qkv.weight.write(tf.concat([eye, eye, eye], 1));
  a.proj.weight.write(eye);
  a.proj.bias!.write(tf.zeros([dim]));
  return a;
}

function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

describe('attention masks', () => {
  it('causalMask: 0 on and below the diagonal, -1e9 above', () => {
    const m = causalMask(3);
    expect(m.shape).toEqual([3, 3]);
    expect(Array.from(m.dataSync())).toEqual([0, MASK_VALUE, MASK_VALUE, 0, 0, MASK_VALUE, 0, 0, 0]);
    m.dispose();
    expect(() => causalMask(0)).toThrow(/causalMask: n must be a positive integer, got 0/);
  });

  it('keyPaddingMask: [B, L] bool / int -> [B, 1, 1, L] additive', () => {
    for (const p of [tf.tensor2d([[0, 0, 1], [0, 1, 1]], [2, 3], 'int32'), tf.tensor2d([[0, 0, 1], [0, 1, 1]], [2, 3], 'bool')]) {
      const m = keyPaddingMask(p);
      expect(m.shape).toEqual([2, 1, 1, 3]);
      expect(m.dtype).toBe('float32');
      expect(Array.from(m.dataSync())).toEqual([0, 0, MASK_VALUE, 0, MASK_VALUE, MASK_VALUE]);
      m.dispose();
      p.dispose();
    }
    const before = tf.memory().numTensors;
    const bad = tf.zeros([2, 1, 3]);
    expect(() => keyPaddingMask(bad)).toThrow(/padding must be a \[B, L\] tensor .*got shape \[2,1,3\]/);
    bad.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('combineMasks: broadcast sum, nulls skipped, bad shapes refused', () => {
    const c = causalMask(3);
    const p = tf.tensor2d([[0, 0, 1]], [1, 3], 'int32');
    const k = keyPaddingMask(p);
    const m = combineMasks(c, null, k)!;
    expect(m.shape).toEqual([1, 1, 3, 3]);
    expect(Array.from(m.dataSync())).toEqual([0, MASK_VALUE, 2 * MASK_VALUE, 0, 0, 2 * MASK_VALUE, 0, 0, MASK_VALUE]);
    expect(combineMasks(null, undefined)).toBeNull();
    const before = tf.memory().numTensors;
    expect(() => combineMasks(c, causalMask(4))).toThrow(/does not broadcast/);
    expect(tf.memory().numTensors).toBe(before + 1); // the causalMask(4) argument itself
    tf.dispose([c, p, k, m]);
  });

  it('causal attention equals the hand computation', () => {
    const a = identityAttention(2, 1);
    const x = tf.tensor3d([[[1, 0], [0, 1], [1, 1]]]);
    const mask = causalMask(3);
    const { out, attn } = a.forward(x, { returnAttention: true, attnMask: mask });
    const s = Math.SQRT1_2;
    const r1 = softmax([0, s]);
    const r2 = softmax([s, s, 2 * s]);
    expectClose(attn!, tf.tensor4d([[[[1, 0, 0], [r1[0]!, r1[1]!, 0], r2]]]), 1e-6, 0);
    expectClose(out, tf.tensor3d([[[1, 0], [r1[0]!, r1[1]!], [r2[0]! + r2[2]!, r2[1]! + r2[2]!]]]), 1e-6, 1e-6);
  });

  it('every accepted mask form gives the same result as the [B, heads, N, N] tensor it broadcasts to', () => {
    const a = new Attention({ dim: 8, numHeads: 2, seed: 3 });
    const x = seededNormal([2, 4, 8], 1);
    const c = causalMask(4);
    const full = tf.tile(tf.reshape(c, [1, 1, 4, 4]), [2, 2, 1, 1]);
    const want = a.forward(x, { attnMask: full }).out;
    for (const m of [c, tf.reshape(c, [1, 1, 4, 4]), tf.tile(tf.reshape(c, [1, 1, 4, 4]), [2, 1, 1, 1])]) {
      expectClose(a.forward(x, { attnMask: m }).out, want, 1e-6, 1e-5);
    }
  });

  it('padded keys get zero probability; unpadded tokens see exactly the truncated sequence', () => {
    const a = new Attention({ dim: 8, numHeads: 2, seed: 4 });
    const x = seededNormal([2, 5, 8], 2);
    const pad = tf.tensor2d([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], [2, 5], 'int32');
    const mask = keyPaddingMask(pad);
    const { out, attn } = a.forward(x, { returnAttention: true, attnMask: mask });
    const p = attn!.arraySync();
    for (const h of [0, 1]) for (let i = 0; i < 5; i++) for (const j of [3, 4]) expect(p[0]![h]![i]![j]).toBe(0);
    const short = a.forward(tf.slice(x, [0, 0, 0], [1, 3, 8])).out;
    expectClose(tf.slice(out, [0, 0, 0], [1, 3, 8]), short, 1e-6, 1e-5);
    // The unpadded sample is unchanged.
    const full = a.forward(tf.slice(x, [1, 0, 0], [1, 5, 8])).out;
    expectClose(tf.slice(out, [1, 0, 0], [1, 5, 8]), full, 1e-6, 1e-5);
  });

  it('gradient: a token never depends on masked keys (causal and padding)', () => {
    const a = new Attention({ dim: 8, numHeads: 2, seed: 5 });
    const x = seededNormal([1, 4, 8], 3);
    const c = causalMask(4);
    // Output of token 1 under the causal mask depends on tokens 0, 1 only.
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(a.forward(xx, { attnMask: c }).out, [0, 1, 0], [1, 1, 8])))(x);
    const ga = g.arraySync() as number[][][];
    for (const t of [2, 3]) expect(ga[0]![t]!.every((v) => v === 0)).toBe(true);
    for (const t of [0, 1]) expect(ga[0]![t]!.some((v) => v !== 0)).toBe(true);
    // The mask reaches the weights' gradient path too: finite grads, no NaN.
    const pad = keyPaddingMask(tf.tensor2d([[0, 0, 1, 1]], [1, 4], 'int32'));
    const gp = tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(a.forward(xx, { attnMask: pad }).out, [0, 0, 0], [1, 2, 8])))(x);
    const gpa = gp.arraySync() as number[][][];
    for (const t of [2, 3]) expect(gpa[0]![t]!.every((v) => v === 0)).toBe(true);
    expect(gpa.flat(2).every(Number.isFinite)).toBe(true);
  });

  it('a fully masked query row stays finite (uniform), not NaN', () => {
    const a = new Attention({ dim: 4, numHeads: 1, seed: 6 });
    const x = seededNormal([1, 3, 4], 4);
    const m = tf.fill([3, 3], MASK_VALUE);
    const { attn } = a.forward(x, { returnAttention: true, attnMask: m });
    expectClose(attn!, tf.fill([1, 1, 3, 3], 1 / 3), 1e-6, 0);
  });

  it('Block passes attnMask through: causal block output is prefix-invariant', () => {
    const b = new Block({ dim: 8, numHeads: 2, seed: 7 });
    const x = seededNormal([2, 5, 8], 5);
    const out = b.forward(x, { attnMask: causalMask(5) }).out;
    const pre = b.forward(tf.slice(x, [0, 0, 0], [2, 3, 8]), { attnMask: causalMask(3) }).out;
    expectClose(tf.slice(out, [0, 0, 0], [2, 3, 8]), pre, 1e-5, 1e-4);
  });

  it('bad masks throw before any tensor work, naming the shape, and leak nothing', () => {
    const a = new Attention({ dim: 8, numHeads: 2, seed: 8 });
    const b = new Block({ dim: 8, numHeads: 2, seed: 8 });
    const x = seededNormal([2, 4, 8], 6);
    const bads = [
      tf.zeros([4, 5]),
      tf.zeros([3, 1, 4, 4]),
      tf.zeros([2, 3, 4, 4]),
      tf.zeros([2, 4, 4]),
      tf.zeros([2, 1, 1, 5]),
      tf.zeros([4, 4], 'int32'),
      tf.zeros([4, 4], 'bool'),
    ];
    const before = tf.memory().numTensors;
    for (const m of bads) {
      expect(() => a.forward(x, { attnMask: m })).toThrow(/Attention: options.attnMask must be an additive float32 mask broadcastable to \[B=2, heads=2, N=4, N=4\]/);
      expect(() => b.forward(x, { attnMask: m })).toThrow(/options.attnMask/);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(bads);
  });

  it('masked forward leaks nothing', () => {
    const a = new Attention({ dim: 8, numHeads: 2, seed: 9 });
    const x = seededNormal([2, 4, 8], 7);
    const m = causalMask(4);
    const before = tf.memory().numTensors;
    const r = a.forward(x, { attnMask: m, returnAttention: true });
    tf.dispose([r.out, r.attn!]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('masks on a 16-bit float backend', () => {
  it('use -1e4 (finite in float16, -1e9 is not) and still give zero attention to masked keys', async () => {
    const { HALF_PRECISION_MASK_VALUE, maskValue } = await import('../../src/layers/index.js');
    const b = tf.backend() as unknown as { floatPrecision(): number };
    const original = b.floatPrecision;
    expect(maskValue()).toBe(MASK_VALUE);
    b.floatPrecision = () => 16;
    try {
      expect(maskValue()).toBe(HALF_PRECISION_MASK_VALUE);
      const c = causalMask(3);
      expect(Array.from(c.dataSync())).toEqual([0, -1e4, -1e4, 0, 0, -1e4, 0, 0, 0]);
      const p = keyPaddingMask(tf.tensor2d([[0, 1]], [1, 2], 'int32'));
      expect(Array.from(p.dataSync())).toEqual([0, -1e4]);
      // Sums of two masks stay inside float16's range (65504).
      const both = combineMasks(causalMask(2), keyPaddingMask(tf.tensor2d([[0, 1]], [1, 2], 'int32')))!;
      expect(Math.min(...both.dataSync())).toBe(-2e4);
      // Softmax of logits + mask: exactly 0 at the masked keys.
      const probs = tf.softmax(tf.add(tf.tensor2d([[3, 40, -2]]), tf.tensor2d([[0, -1e4, 0]])));
      expect(probs.dataSync()[1]).toBe(0);
      tf.dispose([c, p, both, probs]);
    } finally {
      b.floatPrecision = original;
    }
    expect(maskValue()).toBe(MASK_VALUE);
  });
});
