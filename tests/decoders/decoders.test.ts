import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { LinearPixelShuffleDecoder, PixelDecoder, TokenHead, pixelShuffle } from '../../src/decoders/index.js';
import { loadWeights } from '../../src/io/state_dict.js';
import { expectClose } from '../layers/helpers.js';
import { expectEveryGradient, expectThrowsEarly, uniformTensor } from '../models/helpers.js';

describe('pixelShuffle', () => {
  it("follows PyTorch's channel order: channel c*r*r + i*r + j at (y, x) -> pixel (y*r + i, x*r + j), channel c", () => {
    for (const [b, h, w, c, r] of [[1, 2, 3, 2, 2], [2, 1, 2, 3, 3], [1, 2, 2, 1, 1]] as const) {
      const x = uniformTensor([b, h, w, c * r * r], h * 10 + r);
      const xs = x.arraySync() as number[][][][];
      const out = pixelShuffle(x, r);
      expect(out.shape).toEqual([b, h * r, w * r, c]);
      const o = out.arraySync() as number[][][][];
      for (let bb = 0; bb < b; bb++) {
        for (let y = 0; y < h; y++) {
          for (let xx = 0; xx < w; xx++) {
            for (let ch = 0; ch < c; ch++) {
              for (let i = 0; i < r; i++) {
                for (let j = 0; j < r; j++) expect(o[bb]![y * r + i]![xx * r + j]![ch]).toBe(xs[bb]![y]![xx]![ch * r * r + i * r + j]);
              }
            }
          }
        }
      }
      tf.dispose([x, out]);
    }
  });

  it('rejects a channel count that is not a multiple of r*r', () => {
    const x = tf.zeros([1, 2, 2, 5]);
    expectThrowsEarly(() => pixelShuffle(x, 2), /pixelShuffle: x must be \[B, h, w, C \* r \* r\] with r=2, got shape \[1,2,2,5\]/);
    x.dispose();
  });
});

describe('LinearPixelShuffleDecoder', () => {
  it('loads a PyTorch 1x1 conv [r*r*C, D, 1, 1] and reproduces conv + PixelShuffle by loops', () => {
    const D = 3;
    const r = 2;
    const C = 2;
    const dec = new LinearPixelShuffleDecoder({ inFeatures: D, encoderStride: r, outChans: C, seed: 1 });
    expect([...dec.namedWeights().keys()]).toEqual(['0.weight', '0.bias']);
    const wT = uniformTensor([r * r * C, D, 1, 1], 2);
    const bT = uniformTensor([r * r * C], 3);
    loadWeights(dec, new Map([['0.weight', wT], ['0.bias', bT]]));
    const feats = uniformTensor([1, 2, 2, D], 4);
    const out = dec.forward(feats).arraySync() as number[][][][];
    const W = wT.dataSync();
    const B = bT.dataSync();
    const f = feats.arraySync() as number[][][][];
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 2; x++) {
        for (let o = 0; o < r * r * C; o++) {
          let acc = B[o]!;
          for (let d = 0; d < D; d++) acc += W[o * D + d]! * f[0]![y]![x]![d]!;
          const ch = Math.floor(o / (r * r));
          const i = Math.floor((o % (r * r)) / r);
          const j = o % r;
          expect(out[0]![y * r + i]![x * r + j]![ch]!).toBeCloseTo(acc, 5);
        }
      }
    }
    tf.dispose([wT, bT, feats]);
    dec.dispose();
  });

  it('gradients reach weight and bias; no tensor leaks; bad input', () => {
    const dec = new LinearPixelShuffleDecoder({ inFeatures: 4, encoderStride: 2, outChans: 1 });
    const feats = uniformTensor([2, 2, 3, 4], 5);
    const probe = uniformTensor([2, 4, 6, 1], 6);
    expectEveryGradient(dec, () => tf.sum(tf.mul(dec.forward(feats), probe)) as tf.Scalar);
    const wrong = tf.zeros([2, 2, 3, 5]);
    expectThrowsEarly(() => dec.forward(wrong), /features must be \[B, h, w, inFeatures=4\], got shape \[2,2,3,5\]/);
    expect(() => new LinearPixelShuffleDecoder({ inFeatures: 4, encoderStride: 0 })).toThrow(/encoderStride must be an integer in \[1, 4096\], got 0/);
    tf.dispose([feats, probe, wrong]);
    dec.dispose();
  });
});

describe('PixelDecoder', () => {
  const cfg = { encoderDim: 8, gridSize: [2, 3] as [number, number], outDim: 5, embedDim: 8, depth: 1, numHeads: 2, seed: 3 };

  it('output depends on the visible tokens only through their grid positions (consistent reshuffles give the same prediction)', () => {
    const dec = new PixelDecoder(cfg);
    expect(dec.decoderPosEmbed.trainable).toBe(false);
    const cls = uniformTensor([1, 1, 8], 1);
    const toks = uniformTensor([1, 6, 8], 2); // a token for every grid position
    const run = (order: number[], keep: number): tf.Tensor => {
      // order: the encoder's token order (grid ids); the first `keep` are visible.
      const idsRestore = new Array<number>(6);
      order.forEach((g, rank) => (idsRestore[g] = rank));
      const vis = tf.gather(toks, order.slice(0, keep), 1);
      const latent = tf.concat([cls, vis], 1);
      const ids = tf.tensor2d([idsRestore], [1, 6], 'int32');
      const out = dec.forward(latent, ids);
      tf.dispose([vis, latent, ids]);
      return out;
    };
    // Visible set {0, 2, 5} in two different encoder orders; masked {1, 3, 4} in any order.
    const a = run([0, 2, 5, 1, 3, 4], 3);
    const b = run([5, 0, 2, 4, 1, 3], 3);
    expectClose(a, b, 1e-5, 1e-4);
    // Another visible set gives another prediction.
    const c = run([0, 2, 4, 1, 3, 5], 3);
    expect(tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]!).toBeGreaterThan(1e-3);
    expect(a.shape).toEqual([1, 6, 5]);
    tf.dispose([cls, toks, a, b, c]);
    dec.dispose();
  });

  it('gradients reach every trainable variable (mask_token too), not the fixed table; bad input', () => {
    const dec = new PixelDecoder(cfg);
    const latent = uniformTensor([2, 1 + 2, 8], 3);
    const ids = tf.tensor2d([[0, 2, 1, 3, 4, 5], [5, 4, 3, 2, 1, 0]], [2, 6], 'int32');
    const probe = uniformTensor([2, 6, 5], 4);
    const names = expectEveryGradient(dec, () => tf.sum(tf.mul(dec.forward(latent, ids), probe)) as tf.Scalar);
    expect(names).toContain('mask_token');
    expect(names).not.toContain('decoder_pos_embed');
    const tooMany = uniformTensor([2, 8, 8], 5);
    const floatIds = tf.zeros([2, 6]);
    expectThrowsEarly(() => dec.forward(tooMany, ids), /latent has 8 tokens \(shape \[2,8,8\]\), expected 1 prefix \+ 1..6 visible tokens/);
    expectThrowsEarly(() => dec.forward(latent, floatIds as tf.Tensor2D), /idsRestore must be int32, got dtype float32/);
    expect(() => new PixelDecoder({ ...cfg, embedDim: 6, numHeads: 2 })).toThrow(/embedDim 6 must be a multiple of 4/);
    tf.dispose([latent, ids, probe, tooMany, floatIds]);
    dec.dispose();
  });
});

describe('TokenHead', () => {
  it('forwardMasked = forward on the gathered rows; BEiT names and layout; bad input', () => {
    const head = new TokenHead({ inFeatures: 4, vocabSize: 7, seed: 2 });
    expect([...head.namedWeights().keys()]).toEqual(['weight', 'bias']);
    expect(head.namedLayouts().get('weight')).toEqual({ kind: 'linear' });
    expect(head.vocabSize).toBe(7);
    const tokens = uniformTensor([2, 3, 4], 1);
    const rows = tf.tensor1d([1, 3, 5], 'int32');
    const got = head.forwardMasked(tokens, rows);
    const want = head.forward(tf.gather(tf.reshape(tokens, [6, 4]), rows));
    expectClose(got, want, 0, 0);
    const floatRows = tf.tensor1d([1, 3]);
    expectThrowsEarly(() => head.forwardMasked(tokens, floatRows as tf.Tensor1D), /maskedRows must be an int32 \[M\] tensor, got float32 \[2\]/);
    expect(() => new TokenHead({ inFeatures: 4, vocabSize: 1 })).toThrow(/vocabSize must be an integer in \[2, 1048576\], got 1/);
    tf.dispose([tokens, rows, got, want, floatRows]);
    head.dispose();
  });
});
