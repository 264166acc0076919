import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { VisionTransformer, vitTiny, vitBase } from '../../src/models/vit.js';
import { sincosPosEmbed2d } from '../../src/layers/index.js';
import { loadWeights } from '../../src/io/index.js';
import { linear } from '../../src/ops/matmul.js';
import { expectClose, loadCase, seededNormal } from './helpers.js';

function argsort(v: ArrayLike<number>): number[] {
  return Array.from(v, (x, i) => [x, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, i]) => i);
}

describe('VisionTransformer', () => {
  it("reproduces MAE's encoder latent (sin-cos table, encoder on the kept tokens in noise order)", () => {
    const c = loadCase('mae');
    const cfg = c.config as { img_size: number; patch_size: number; embed_dim: number; depth: number; num_heads: number; mlp_ratio: number; len_keep: number };
    const vit = new VisionTransformer({
      imgSize: cfg.img_size, patchSize: cfg.patch_size, embedDim: cfg.embed_dim, depth: cfg.depth,
      numHeads: cfg.num_heads, mlpRatio: cfg.mlp_ratio, posEmbed: 'sincos',
    });
    // Our fixed table equals the file's (MAE stores it although it is fixed).
    expectClose(vit.posEmbed!.read(), c.tensor('param.pos_embed'), 1e-6, 1e-5);
    expect(vit.posEmbed!.trainable).toBe(false);
    const report = loadWeights(vit, c.params(), { strict: false });
    expect(report.missing).toEqual([]);
    expect(report.unexpected.every((k) => k.startsWith('decoder') || k === 'mask_token')).toBe(true);

    const imgs = tf.transpose(c.tensor('input.imgs'), [0, 2, 3, 1]);
    const noise = c.tensor('input.noise').arraySync() as number[][];
    const tokens = vit.embed(imgs);
    const kept = tf.stack(
      noise.map((n, b) => tf.gather(tf.squeeze(tf.slice(tokens, [b, 0, 0], [1, -1, -1]), [0]), argsort(n).slice(0, cfg.len_keep))),
    );
    const { tokens: latent } = vit.forwardTokens(vit.prependClassToken(kept));
    expectClose(latent, c.tensor('expect.latent'), 1e-4, 1e-3);
    vit.dispose();
  });

  it("reproduces SimMIM's reconstruction with a BEiT-form encoder (q/v bias, gamma_1/gamma_2, learned table)", () => {
    const c = loadCase('simmim');
    const cfg = c.config as { img_size: number; patch_size: number; embed_dim: number; depth: number; num_heads: number; mlp_ratio: number; init_values: number; encoder_stride: number };
    const vit = new VisionTransformer({
      imgSize: cfg.img_size, patchSize: cfg.patch_size, embedDim: cfg.embed_dim, depth: cfg.depth,
      numHeads: cfg.num_heads, mlpRatio: cfg.mlp_ratio, qkvBias: 'qv', initValues: cfg.init_values,
      layerScaleNaming: 'beit', posEmbed: 'learned',
    });
    const params = c.params('encoder.');
    const maskToken = params.get('mask_token')!;
    params.delete('mask_token');
    loadWeights(vit, params); // strict: every other encoder key is a ViT weight
    const x = tf.transpose(c.tensor('input.x'), [0, 2, 3, 1]);
    const [b, s] = [x.shape[0]!, cfg.img_size];
    const g = s / cfg.patch_size;
    const w = tf.reshape(c.tensor('input.mask'), [b, g * g, 1]);
    // Mask token mixed in before the class token and position are added.
    let t: tf.Tensor = vit.patchTokens(x);
    t = tf.add(tf.mul(t, tf.sub(1, w)), tf.mul(maskToken, w));
    const z = vit.forwardTokens(vit.prependClassToken(vit.addPosEmbed(t))).tokens;
    const feat = tf.slice(z, [0, 1, 0], [-1, -1, -1]);
    // Decoder: 1x1 conv to r*r*3 channels, then pixel shuffle (channel ch*r*r + i*r + j -> pixel (y*r+i, x*r+j), ch).
    const r = cfg.encoder_stride;
    const dw = tf.transpose(tf.reshape(c.tensor('param.decoder.0.weight'), [r * r * 3, cfg.embed_dim]));
    const y = linear(tf.reshape(feat, [-1, cfg.embed_dim]), dw, c.tensor('param.decoder.0.bias'));
    const img = tf.reshape(tf.transpose(tf.reshape(y, [b, g, g, 3, r, r]), [0, 1, 4, 2, 5, 3]), [b, s, s, 3]);
    expectClose(img, tf.transpose(c.tensor('expect.x_rec'), [0, 2, 3, 1]), 1e-4, 1e-3);
    vit.dispose();
  });

  it('timm names, shapes and parameter count (ViT-Ti/16 has 5,524,416 weights without head)', () => {
    const vit = new VisionTransformer({ ...vitTiny, depth: 1 });
    const keys = [...vit.namedWeights().keys()];
    expect(keys.slice(0, 4)).toEqual(['cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias']);
    expect(keys).toContain('blocks.0.attn.qkv.weight');
    expect(keys.slice(-2)).toEqual(['norm.weight', 'norm.bias']);
    expect(vit.posEmbed!.shape).toEqual([1, 197, 192]);
    expect(vit.posEmbed!.trainable).toBe(true);
    // Per block 444,864; embeddings, tokens and final norm 185,664 + 384 (timm vit_tiny_patch16_224 minus its head).
    expect(vit.countParams()).toBe(5_524_416 - 11 * 444_864);
    vit.dispose();
    expect(vitBase).toMatchObject({ embedDim: 768, depth: 12, numHeads: 12, patchSize: 16, imgSize: 224 });
  });

  it('non-square images, no class token, no table: weights absent, shapes follow', () => {
    const vit = new VisionTransformer({
      imgSize: [8, 12], patchSize: 4, inChans: 1, embedDim: 8, depth: 2, numHeads: 2, classToken: false, posEmbed: 'none',
    });
    const keys = [...vit.namedWeights().keys()];
    expect(keys).not.toContain('cls_token');
    expect(keys).not.toContain('pos_embed');
    expect(vit.gridSize).toEqual([2, 3]);
    const x = seededNormal([2, 8, 12, 1], 1);
    const before = tf.memory().numTensors;
    const { tokens, attentions } = vit.forwardFeatures(x, { returnAttention: true });
    expect(tokens.shape).toEqual([2, 6, 8]);
    expect(attentions!.map((a) => a.shape)).toEqual([[2, 2, 6, 6], [2, 2, 6, 6]]);
    tf.dispose([tokens, ...attentions!]);
    expect(tf.memory().numTensors).toBe(before);
    vit.dispose();
  });

  it('class token gets pos_embed[0]; forwardFeatures = norm(blocks([cls; embed(imgs)])); no leaks', () => {
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, seed: 3 });
    const x = seededNormal([2, 8, 8, 3], 2);
    const before = tf.memory().numTensors;
    const f = vit.forwardFeatures(x);
    expect(f.attentions).toBeUndefined();
    expect(f.tokens.shape).toEqual([2, 5, 8]);
    const manual = tf.tidy(() => {
      const cls = tf.add(vit.clsToken!.read(), tf.slice(vit.posEmbed!.read(), [0, 0, 0], [1, 1, 8]));
      const t = tf.concat([tf.tile(cls, [2, 1, 1]), vit.embed(x)], 1);
      return vit.forwardTokens(t).tokens;
    });
    expectClose(f.tokens, manual, 1e-6, 1e-6);
    tf.dispose([f.tokens, manual]);
    expect(tf.memory().numTensors).toBe(before);
    vit.dispose();
  });

  it('drop path decays linearly over depth (timm)', () => {
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 5, numHeads: 2, dropPathRate: 0.2 });
    expectClose(vit.blocks.map((b) => b.config.dropPath), [0, 0.05, 0.1, 0.15, 0.2], 1e-12, 0);
    vit.dispose();
  });

  it('rejects bad config and input before any tensor work', () => {
    expect(() => new VisionTransformer({ embedDim: 10, numHeads: 4, depth: 1 })).toThrow(/embedDim 10 is not divisible by numHeads 4/);
    expect(() => new VisionTransformer({ imgSize: 30, patchSize: 16, depth: 1 })).toThrow(/imgSize 30x30 is not divisible by patchSize 16/);
    expect(() => new VisionTransformer({ embedDim: 6, numHeads: 2, depth: 1, posEmbed: 'sincos' })).toThrow(/multiple of 4/);
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2 });
    const bad = [tf.zeros([1, 8, 8, 1]), tf.zeros([8, 8, 3]), tf.zeros([1, 16, 16, 3])];
    const before = tf.memory().numTensors;
    expect(() => vit.forwardFeatures(bad[0]!)).toThrow(/imgs has 1 channels .*expected inChans=3/);
    expect(() => vit.forwardFeatures(bad[1]!)).toThrow(/rank 4 .*got shape \[8,8,3\]/);
    expect(() => vit.forwardFeatures(bad[2]!)).toThrow(/image size 16x16 .*does not match imgSize 8x8/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(bad);
    vit.dispose();
  });

  it('fixed sincos table equals sincosPosEmbed2d with a zero class row', () => {
    const vit = new VisionTransformer({ imgSize: [8, 12], patchSize: 4, embedDim: 8, depth: 0, numHeads: 2, posEmbed: 'sincos' });
    expectClose(vit.posEmbed!.read(), tf.expandDims(sincosPosEmbed2d(8, [2, 3], true), 0), 0, 0);
    expect(vit.trainableVariables().some((v) => v.shape.length === 3 && v.shape[1] === 7)).toBe(false);
    vit.dispose();
  });
});
