import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Block } from '../../src/layers/index.js';
import { loadWeights } from '../../src/io/index.js';
import { run as vitBlockKind } from '../conformance/kinds/vit_block.js';
import { checkKind, expectClose, loadCase, seededNormal } from './helpers.js';

describe('Block', () => {
  it('reproduces the vit_block conformance case (kind)', async () => {
    await checkKind('vit_block', vitBlockKind);
  });

  it('reproduces the vit_block case directly (out and attention)', () => {
    const c = loadCase('vit_block');
    const cfg = c.config as { dim: number; num_heads: number; mlp_ratio: number; init_values: number | null; qkv_bias: boolean };
    const blk = new Block({
      dim: cfg.dim, numHeads: cfg.num_heads, mlpRatio: cfg.mlp_ratio, initValues: cfg.init_values, qkvBias: cfg.qkv_bias ? 'qkv' : 'none',
    });
    loadWeights(blk, c.params());
    const x = c.tensor('input.x');
    const before = tf.memory().numTensors;
    const { out, attn } = blk.forward(x, { returnAttention: true });
    expectClose(out, c.tensor('expect.out'), 1e-4, 1e-3);
    expectClose(attn!, c.tensor('expect.attn'), 1e-4, 1e-3);
    blk.dispose();
    expect(before).toBeGreaterThan(0);
  });

  it('layer scale off costs nothing; timm and BEiT namings', () => {
    const keys = (b: Block) => [...b.namedWeights().keys()].sort();
    const plain = keys(new Block({ dim: 8, numHeads: 2 }));
    expect(plain.some((k) => k.includes('gamma'))).toBe(false);
    expect(plain).toEqual([
      'attn.proj.bias', 'attn.proj.weight', 'attn.qkv.bias', 'attn.qkv.weight',
      'mlp.fc1.bias', 'mlp.fc1.weight', 'mlp.fc2.bias', 'mlp.fc2.weight',
      'norm1.bias', 'norm1.weight', 'norm2.bias', 'norm2.weight',
    ]);
    const timm = keys(new Block({ dim: 8, numHeads: 2, initValues: 0.1 }));
    expect(timm.filter((k) => k.includes('gamma'))).toEqual(['ls1.gamma', 'ls2.gamma']);
    const beit = keys(new Block({ dim: 8, numHeads: 2, initValues: 0.1, layerScaleNaming: 'beit', qkvBias: 'qv' }));
    expect(beit.filter((k) => k.includes('gamma') || k.includes('bias') && k.startsWith('attn.q') || k.startsWith('attn.v')))
      .toEqual(['attn.q_bias', 'attn.v_bias', 'gamma_1', 'gamma_2']);
    expect(beit).not.toContain('attn.qkv.bias');
  });

  it('with layer scale 0 the block is the identity; layer scale multiplies each branch', () => {
    const x = seededNormal([2, 3, 8], 1);
    const zero = new Block({ dim: 8, numHeads: 2, initValues: 0, seed: 4 });
    expectClose(zero.forward(x).out, x, 0, 0);
    // gamma = 1 equals no layer scale with the same weights.
    const one = new Block({ dim: 8, numHeads: 2, initValues: 1, layerScaleNaming: 'beit', seed: 4 });
    const none = new Block({ dim: 8, numHeads: 2, seed: 4 });
    expectClose(one.forward(x).out, none.forward(x).out, 1e-6, 1e-6);
  });

  it('drop path is inactive in eval mode and per-sample in training', () => {
    const x = seededNormal([4, 3, 8], 2);
    const blk = new Block({ dim: 8, numHeads: 2, dropPath: 0.5, seed: 3 });
    const ref = new Block({ dim: 8, numHeads: 2, seed: 3 });
    expectClose(blk.forward(x).out, ref.forward(x).out, 0, 0);
    expectClose(blk.forward(x, { training: false }).out, ref.forward(x).out, 0, 0);
    const before = tf.memory().numTensors;
    const t = blk.forward(x, { training: true }).out;
    expect(t.shape).toEqual([4, 3, 8]);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad input before any tensor work', () => {
    expect(() => new Block({ dim: 10, numHeads: 4 })).toThrow(/dim 10 is not divisible by numHeads 4/);
    expect(() => new Block({ dim: 8, numHeads: 2, layerScaleNaming: 'x' as 'timm' })).toThrow(/layerScaleNaming must be 'timm' or 'beit', got 'x'/);
    const blk = new Block({ dim: 8, numHeads: 2 });
    const x = tf.zeros([2, 8]);
    const before = tf.memory().numTensors;
    expect(() => blk.forward(x)).toThrow(/x must have rank 3 \[B, N, dim\], got shape \[2,8\]/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
