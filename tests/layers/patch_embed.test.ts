import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { PatchEmbed } from '../../src/layers/index.js';
import { loadWeights } from '../../src/io/index.js';
import { run as patchEmbedKind } from '../conformance/kinds/patch_embed.js';
import { checkKind, expectClose, loadCase, seededNormal } from './helpers.js';

/** Direct convolution (kernel = stride = p) on NCHW, PyTorch weight [D, C, p, p]: the definition. */
function refConv(x: Float32Array, [b, c, h, w]: number[], wt: Float32Array, bias: Float32Array, d: number, p: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < b; s++) {
    for (let R = 0; R < h / p; R++) {
      for (let Q = 0; Q < w / p; Q++) {
        for (let o = 0; o < d; o++) {
          let acc = bias[o]!;
          for (let ch = 0; ch < c; ch++) {
            for (let i = 0; i < p; i++) {
              for (let j = 0; j < p; j++) {
                acc += wt[((o * c + ch) * p + i) * p + j]! * x[((s * c + ch) * h + R * p + i) * w + Q * p + j]!;
              }
            }
          }
          out.push(acc);
        }
      }
    }
  }
  return out;
}

describe('PatchEmbed', () => {
  it('reproduces the patch_embed conformance case (kind)', async () => {
    await checkKind('patch_embed', patchEmbedKind);
  });

  it('reproduces the conformance case directly (loadWeights + NHWC input)', () => {
    const c = loadCase('patch_embed');
    const cfg = c.config as { img_size: [number, number]; patch_size: number; in_chans: number; embed_dim: number };
    const pe = new PatchEmbed({ imgSize: cfg.img_size, patchSize: cfg.patch_size, inChans: cfg.in_chans, embedDim: cfg.embed_dim });
    loadWeights(pe, c.params());
    const x = tf.transpose(c.tensor('input.x'), [0, 2, 3, 1]);
    expectClose(pe.forward(x), c.tensor('expect.out'), 1e-4, 1e-3);
    pe.dispose();
  });

  it.each([
    [2, 8, 12, 2, 5, 4],
    [1, 6, 3, 1, 3, 3],
  ])('equals a direct convolution from PyTorch-layout weights: B=%i H=%i W=%i C=%i D=%i p=%i', (b, h, w, c, d, p) => {
    const pe = new PatchEmbed({ imgSize: [h, w], patchSize: p, inChans: c, embedDim: d, seed: 3 });
    const xNchw = seededNormal([b, c, h, w], 11);
    const wt = seededNormal([d, c, p, p], 12);
    const bias = seededNormal([d], 13);
    loadWeights(pe, new Map([['proj.weight', wt], ['proj.bias', bias]]));
    const x = tf.transpose(xNchw, [0, 2, 3, 1]);
    const before = tf.memory().numTensors;
    const out = pe.forward(x);
    expect(out.shape).toEqual([b, (h / p) * (w / p), d]);
    const want = refConv(xNchw.dataSync() as Float32Array, [b, c, h, w], wt.dataSync() as Float32Array, bias.dataSync() as Float32Array, d, p);
    expectClose(out, want, 1e-5, 1e-4);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xNchw, wt, bias, x]);
    pe.dispose();
  });

  it('names, layouts and MAE initialisation', () => {
    const pe = new PatchEmbed({ imgSize: 8, patchSize: 4, inChans: 3, embedDim: 16, seed: 1 });
    expect([...pe.namedWeights().keys()]).toEqual(['proj.weight', 'proj.bias']);
    expect(pe.namedLayouts().get('proj.weight')).toEqual({ kind: 'convMatrix', kh: 4, kw: 4, inChannels: 3 });
    expect(pe.weight.shape).toEqual([48, 16]);
    expect(pe.gridSize).toEqual([2, 2]);
    const wv = pe.weight.read().dataSync();
    const bound = Math.sqrt(6 / (48 + 16));
    expect(Math.max(...Array.from(wv, Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...Array.from(wv, Math.abs))).toBeGreaterThan(0.8 * bound);
    const bv = pe.bias!.read().dataSync();
    expect(Math.max(...Array.from(bv, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(48));
    const noBias = new PatchEmbed({ imgSize: 8, patchSize: 4, embedDim: 4, bias: false });
    expect([...noBias.namedWeights().keys()]).toEqual(['proj.weight']);
    pe.dispose();
    noBias.dispose();
  });

  it('rejects bad config and input before any tensor work', () => {
    expect(() => new PatchEmbed({ imgSize: [30, 32], patchSize: 16 })).toThrow(/imgSize 30x32 is not divisible by patchSize 16/);
    expect(() => new PatchEmbed({ imgSize: 16, patchSize: 4, embedDim: 0 })).toThrow(/embedDim must be an integer in \[1, 65536\], got 0/);
    const pe = new PatchEmbed({ imgSize: 8, patchSize: 4, inChans: 3, embedDim: 4 });
    const loose = new PatchEmbed({ imgSize: 8, patchSize: 4, inChans: 3, embedDim: 4, strictImgSize: false });
    const bad = [tf.zeros([8, 8, 3]), tf.zeros([1, 8, 8, 1]), tf.zeros([1, 12, 8, 3]), tf.zeros([1, 10, 8, 3])];
    const before = tf.memory().numTensors;
    expect(() => pe.forward(bad[0]!)).toThrow(/imgs must have rank 4 \[B, H, W, C\].*got shape \[8,8,3\]/);
    expect(() => pe.forward(bad[1]!)).toThrow(/imgs has 1 channels .*expected inChans=3/);
    expect(() => pe.forward(bad[2]!)).toThrow(/image size 12x8 .*does not match imgSize 8x8/);
    expect(() => loose.forward(bad[3]!)).toThrow(/image size 10x8 is not divisible by patchSize 4/);
    expect(tf.memory().numTensors).toBe(before);
    const ok = loose.forward(bad[2]!);
    expect(ok.shape).toEqual([1, 6, 4]);
    tf.dispose([...bad, ok]);
    pe.dispose();
    loose.dispose();
  });
});
