import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Attention } from '../../src/layers/index.js';
import { expectClose, seededNormal } from './helpers.js';

/** Sets q = k = v = x (fused weight [I I I]), identity output projection, zero biases. */
function identityAttention(dim: number, numHeads: number): Attention {
  const a = new Attention({ dim, numHeads, qkvBias: 'none' });
  const eye = tf.eye(dim);
  a.qkv.weight.write(tf.concat([eye, eye, eye], 1));
  a.proj.weight.write(eye);
  a.proj.bias!.write(tf.zeros([dim]));
  return a;
}

describe('Attention', () => {
  it('one head: softmax(q k^T / sqrt(d)) v (hand example)', () => {
    const a = identityAttention(2, 1);
    const x = tf.tensor3d([[[1, 0], [0, 1]]]);
    const { out, attn } = a.forward(x, { returnAttention: true });
    const p = 1 / (1 + Math.exp(-Math.SQRT1_2)); // softmax([1/sqrt2, 0])[0]
    expectClose(attn!, tf.tensor4d([[[[p, 1 - p], [1 - p, p]]]]), 1e-6, 0);
    expectClose(out, tf.tensor3d([[[p, 1 - p], [1 - p, p]]]), 1e-6, 0);
  });

  it('two heads own channels [0, d) and [d, 2d) (hand example)', () => {
    const a = identityAttention(2, 2);
    const x = tf.tensor3d([[[1, 0], [0, 1]]]);
    const { out, attn } = a.forward(x, { returnAttention: true });
    const s = Math.E / (Math.E + 1); // softmax([1, 0])[0], d = 1 so no scaling
    expect(attn!.shape).toEqual([1, 2, 2, 2]);
    expectClose(attn!, tf.tensor4d([[[[s, 1 - s], [0.5, 0.5]], [[0.5, 0.5], [1 - s, s]]]]), 1e-6, 0);
    expectClose(out, tf.tensor3d([[[s, 0.5], [0.5, s]]]), 1e-6, 0);
  });

  it('weights per bias mode carry timm / BEiT names', () => {
    const names = (m: Attention) => [...m.namedWeights().keys()].sort();
    expect(names(new Attention({ dim: 8, numHeads: 2, qkvBias: 'qkv' }))).toEqual(['proj.bias', 'proj.weight', 'qkv.bias', 'qkv.weight']);
    expect(names(new Attention({ dim: 8, numHeads: 2, qkvBias: 'none' }))).toEqual(['proj.bias', 'proj.weight', 'qkv.weight']);
    expect(names(new Attention({ dim: 8, numHeads: 2, qkvBias: 'qv' }))).toEqual(['proj.bias', 'proj.weight', 'q_bias', 'qkv.weight', 'v_bias']);
    expect(new Attention({ dim: 8, numHeads: 2 }).namedLayouts().get('qkv.weight')).toEqual({ kind: 'linear' });
  });

  it("'qv' mode equals a fused bias [q_bias, 0, v_bias]", () => {
    const qv = new Attention({ dim: 8, numHeads: 2, qkvBias: 'qv', seed: 5 });
    const fused = new Attention({ dim: 8, numHeads: 2, qkvBias: 'qkv', seed: 5 });
    const qb = seededNormal([8], 1);
    const vb = seededNormal([8], 2);
    qv.qBias!.write(qb);
    qv.vBias!.write(vb);
    fused.qkv.weight.write(qv.qkv.weight.read());
    fused.qkv.bias!.write(tf.concat([qb, tf.zeros([8]), vb]));
    fused.proj.weight.write(qv.proj.weight.read());
    fused.proj.bias!.write(qv.proj.bias!.read());
    const x = seededNormal([2, 5, 8], 3);
    const a = qv.forward(x, { returnAttention: true });
    const b = fused.forward(x, { returnAttention: true });
    expectClose(a.out, b.out, 1e-6, 1e-5);
    expectClose(a.attn!, b.attn!, 1e-6, 1e-5);
    // A key bias does not change the probabilities (softmax is shift-invariant per row).
    fused.qkv.bias!.write(tf.concat([qb, seededNormal([8], 4), vb]));
    expectClose(fused.forward(x, { returnAttention: true }).attn!, a.attn!, 1e-5, 1e-4);
  });

  it('projectQkv splits [B, heads, N, d]; probabilities sum to 1; no leaks', () => {
    const a = new Attention({ dim: 12, numHeads: 3, seed: 2 });
    const x = seededNormal([2, 4, 12], 9);
    const before = tf.memory().numTensors;
    const { q, k, v } = a.projectQkv(x);
    expect([q.shape, k.shape, v.shape]).toEqual([[2, 3, 4, 4], [2, 3, 4, 4], [2, 3, 4, 4]]);
    const { out, attn } = a.forward(x, { returnAttention: true });
    expect(out.shape).toEqual([2, 4, 12]);
    const sums = tf.sum(attn!, -1);
    expectClose(sums, new Array(2 * 3 * 4).fill(1), 1e-6, 0);
    tf.dispose([q, k, v, out, attn!, sums]);
    const noAttn = a.forward(x);
    expect(noAttn.attn).toBeUndefined();
    noAttn.out.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a width not divisible by the heads and bad input, before any tensor work', () => {
    expect(() => new Attention({ dim: 10, numHeads: 3 })).toThrow(/dim 10 is not divisible by numHeads 3/);
    expect(() => new Attention({ dim: 8, qkvBias: 'k' as 'qv' })).toThrow(/qkvBias must be 'qkv', 'none' or 'qv', got 'k'/);
    const a = new Attention({ dim: 8, numHeads: 2 });
    const x = tf.zeros([2, 3, 6]);
    const before = tf.memory().numTensors;
    expect(() => a.forward(x)).toThrow(/x must be \[B, N, dim=8\], got shape \[2,3,6\]/);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
