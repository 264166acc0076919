import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { MAE, maeMicro, maeTiny, maeVitBasePatch16, type MAEConfig } from '../../src/models/mae.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { sincosPosEmbed2d } from '../../src/layers/pos_embed.js';
import { exportWeights, loadWeights } from '../../src/io/state_dict.js';
import { loadMimWeights, maeConverter, maeEncoderConverter } from '../../src/io/converters_mim.js';
import { Rng } from '../../src/utils/random.js';
import { run as maeKind } from '../conformance/kinds/mae.js';
import { checkKind, expectClose, loadCase } from '../layers/helpers.js';
import { expectEveryGradient, expectSameWeights, expectThrowsEarly, train, uniformTensor } from './helpers.js';

/** The small config of the tests: 16 px, patch 4, D 32, depth 2. */
const SMALL: MAEConfig = {
  imgSize: 16, patchSize: 4, inChans: 3, embedDim: 32, depth: 2, numHeads: 4,
  decoderEmbedDim: 16, decoderDepth: 1, decoderNumHeads: 2, maskRatio: 0.75, seed: 3,
};

describe('MAE', () => {
  it('reproduces the mae conformance case (ids_restore, mask, latent, pred, loss)', async () => {
    const before = tf.memory().numTensors;
    await checkKind('mae', maeKind);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names every weight as MAE's state_dict, with PyTorch layouts, fixed tables non-trainable", () => {
    const c = loadCase('mae');
    const cfg = c.config as Record<string, number>;
    const mae = new MAE({
      imgSize: cfg.img_size, patchSize: cfg.patch_size, embedDim: cfg.embed_dim, depth: cfg.depth, numHeads: cfg.num_heads,
      decoderEmbedDim: cfg.decoder_embed_dim, decoderDepth: cfg.decoder_depth, decoderNumHeads: cfg.decoder_num_heads,
    });
    const params = c.params();
    expect([...mae.namedWeights().keys()].sort()).toEqual([...params.keys()].sort());
    // Our fixed tables equal the file's (MAE stores them although they are fixed).
    expectClose(mae.namedWeights().get('pos_embed')!.read(), params.get('pos_embed')!, 1e-6, 1e-5);
    expectClose(mae.namedWeights().get('decoder_pos_embed')!.read(), params.get('decoder_pos_embed')!, 1e-6, 1e-5);
    const nonTrainable = [...mae.namedWeights()].filter(([, w]) => !w.trainable).map(([k]) => k).sort();
    expect(nonTrainable).toEqual(['decoder_pos_embed', 'pos_embed']);
    expect(mae.namedLayouts().get('decoder_pred.weight')).toEqual({ kind: 'linear' });
    expect(mae.namedLayouts().get('patch_embed.proj.weight')).toEqual({ kind: 'convMatrix', kh: cfg.patch_size, kw: cfg.patch_size, inChannels: 3 });
    // Export + import round trip through the mae converter is exact.
    const sd = exportWeights(mae, { converter: maeConverter });
    const other = new MAE({ ...mae.config, seed: 99 });
    loadWeights(other, sd, { converter: maeConverter });
    expectSameWeights(mae, other);
    tf.dispose([...sd.values(), ...params.values()]);
    mae.dispose();
    other.dispose();
  });

  it('initializeWeights follows MAE: sin-cos tables, xavier Linear and patch matrix, normal(0.02) tokens, LayerNorm 1/0', () => {
    const mae = new MAE({ ...SMALL, embedDim: 64, decoderEmbedDim: 32, depth: 1 });
    const w = mae.namedWeights();
    const table = sincosPosEmbed2d(64, 4, true);
    expectClose(tf.reshape(w.get('pos_embed')!.read(), [17, 64]), table, 1e-7, 0);
    const values = (k: string) => Array.from(w.get(k)!.read().dataSync());
    const std = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    // xavier-uniform: |w| <= sqrt(6 / (fanIn + fanOut)), and its std is bound / sqrt(3).
    for (const [k, fanIn, fanOut] of [['blocks.0.attn.qkv.weight', 64, 192], ['patch_embed.proj.weight', 48, 64], ['decoder_pred.weight', 32, 48]] as const) {
      const a = values(k);
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(std(a)).toBeGreaterThan(0.9 * (bound / Math.sqrt(3)));
      expect(std(a)).toBeLessThan(1.1 * (bound / Math.sqrt(3)));
    }
    expect(values('blocks.0.attn.qkv.bias').every((x) => x === 0)).toBe(true);
    expect(values('decoder_norm.weight').every((x) => x === 1)).toBe(true);
    expect(values('norm.bias').every((x) => x === 0)).toBe(true);
    const tokens = [...values('cls_token'), ...values('mask_token')];
    expect(std(tokens)).toBeGreaterThan(0.014);
    expect(std(tokens)).toBeLessThan(0.026);
    // The constructor initialised once, already as initializeWeights() does: calling it changes nothing.
    const copy = new MAE({ ...SMALL, embedDim: 64, decoderEmbedDim: 32, depth: 1 });
    copy.initializeWeights();
    expectSameWeights(mae, copy);
    // After training-like changes it restores the initial weights (the patch bias stays, as upstream).
    for (const [k, v] of copy.namedWeights()) {
      if (k === 'patch_embed.proj.bias') continue;
      const ones = tf.onesLike(v.read());
      v.write(ones);
      ones.dispose();
    }
    copy.initializeWeights();
    expectSameWeights(mae, copy);
    mae.dispose();
    copy.dispose();
    table.dispose();
  });

  it('handles one channel, non-square images and another mask ratio (shapes, per-sample counts, kept order)', () => {
    const mae = new MAE({ ...SMALL, imgSize: [8, 16], inChans: 1, maskRatio: 0.5, normPixLoss: true });
    expect(mae.numPatches).toBe(8);
    const imgs = uniformTensor([3, 8, 16, 1], 1);
    const noise = uniformTensor([3, 8], 2);
    const out = mae.forward(imgs, { noise });
    expect(out.latent.shape).toEqual([3, 1 + 4, 32]);
    expect(out.pred.shape).toEqual([3, 8, 16]);
    const mask = out.mask.arraySync() as number[][];
    const n = noise.arraySync() as number[][];
    const ids = out.idsRestore.arraySync() as number[][];
    for (let b = 0; b < 3; b++) {
      expect(mask[b]!.reduce((s, x) => s + x, 0)).toBe(4);
      const order = n[b]!.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0]).map(([, i]) => i);
      for (let i = 0; i < 8; i++) {
        expect(ids[b]![order[i]!]).toBe(i); // the rank of each patch's noise
        expect(mask[b]![order[i]!]).toBe(i < 4 ? 0 : 1); // lowest noise kept
      }
    }
    expect(Number.isFinite(out.loss.dataSync()[0]!)).toBe(true);
    tf.dispose([imgs, noise, out]);
    mae.dispose();
  });

  it('forwardTarget: mean colour and downsampled targets against loops; predToImages inverts every target', () => {
    const imgs = uniformTensor([2, 8, 8, 2], 5);
    const px = imgs.arraySync() as number[][][][];
    const base = { ...SMALL, imgSize: 8, inChans: 2, decoderEmbedDim: 8 };
    const meanModel = new MAE({ ...base, target: 'meanColor' });
    const downModel = new MAE({ ...base, target: 'downsampled', downsampleSize: 2 });
    const pixModel = new MAE({ ...base, target: 'pixels' });
    const normModel = new MAE({ ...base, normPixLoss: true });
    expect([meanModel.targetDim, downModel.targetDim, pixModel.targetDim, normModel.targetDim]).toEqual([2, 8, 32, 32]);
    const mean = meanModel.forwardTarget(imgs).arraySync() as number[][][];
    const down = downModel.forwardTarget(imgs).arraySync() as number[][][];
    for (let b = 0; b < 2; b++) {
      for (let R = 0; R < 2; R++) {
        for (let Q = 0; Q < 2; Q++) {
          const l = R * 2 + Q;
          for (let c = 0; c < 2; c++) {
            let s = 0;
            for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) s += px[b]![R * 4 + i]![Q * 4 + j]![c]!;
            expect(mean[b]![l]![c]!).toBeCloseTo(s / 16, 5);
            for (let si = 0; si < 2; si++) {
              for (let sj = 0; sj < 2; sj++) {
                let t = 0;
                for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) t += px[b]![R * 4 + si * 2 + i]![Q * 4 + sj * 2 + j]![c]!;
                expect(down[b]![l]![(si * 2 + sj) * 2 + c]!).toBeCloseTo(t / 4, 5);
              }
            }
          }
        }
      }
    }
    // pixels and normPixels: predicting the target exactly gives the image back.
    for (const m of [pixModel, normModel]) {
      const t = m.forwardTarget(imgs);
      const back = m.predToImages(t, imgs);
      expectClose(back, imgs, 1e-5, 1e-4);
      tf.dispose([t, back]);
    }
    // meanColor: every pixel of a patch shows the patch mean.
    const mt = meanModel.forwardTarget(imgs);
    const mimg = meanModel.predToImages(mt).arraySync() as number[][][][];
    expect(mimg[1]![5]![2]![1]).toBeCloseTo(mean[1]![2]![1]!, 6);
    const dt = downModel.forwardTarget(imgs);
    const dimg = downModel.predToImages(dt).arraySync() as number[][][][];
    expect(dimg[0]![7]![6]![0]).toBeCloseTo(down[0]![3]![(1 * 2 + 1) * 2 + 0]!, 6);
    tf.dispose([imgs, mt, dt]);
    for (const m of [meanModel, downModel, pixModel, normModel]) m.dispose();
  });

  it('every trainable variable gets a non-zero gradient (mask_token included; fixed tables excluded)', () => {
    const mae = new MAE({ ...SMALL, normPixLoss: true });
    const imgs = uniformTensor([2, 16, 16, 3], 7);
    const names = expectEveryGradient(mae, () => mae.forward(imgs, { seed: 1 }).loss);
    expect(names).toContain('mask_token');
    expect(names).toContain('cls_token');
    expect(names).not.toContain('pos_embed');
    expect(names).not.toContain('decoder_pos_embed');
    imgs.dispose();
    mae.dispose();
  });

  it('trains with AdamW: tensor count flat over the steps, loss decreases on a fixed batch and mask', () => {
    const mae = new MAE(SMALL);
    const imgs = uniformTensor([4, 16, 16, 3], 11);
    const before = tf.memory().numTensors;
    const { losses, counts } = train(mae, () => mae.forward(imgs, { seed: 5 }).loss, 20, 3e-3);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[19]!).toBeLessThan(0.5 * losses[0]!);
    imgs.dispose();
    mae.dispose();
  });

  it('is deterministic: same seed, same initial weights, masks and losses (bit-identical)', () => {
    const a = new MAE(SMALL);
    const b = new MAE(SMALL);
    expectSameWeights(a, b);
    const imgs = uniformTensor([2, 16, 16, 3], 13);
    for (let step = 0; step < 2; step++) {
      // No noise source given: each model's own generator advances the same way.
      const oa = a.forward(imgs);
      const ob = b.forward(imgs);
      expect(Array.from(oa.mask.dataSync())).toEqual(Array.from(ob.mask.dataSync()));
      expect(oa.loss.dataSync()[0]).toBe(ob.loss.dataSync()[0]);
      tf.dispose([oa, ob]);
    }
    // The model's generator advances: two calls give different masks.
    const m1 = a.forwardEncoder(imgs);
    const m2 = a.forwardEncoder(imgs);
    expect(Array.from(m1.mask.dataSync())).not.toEqual(Array.from(m2.mask.dataSync()));
    // A given seed or Rng reproduces a mask.
    const s1 = a.forwardEncoder(imgs, { seed: 4 });
    const s2 = b.forwardEncoder(imgs, { rng: new Rng(4) });
    expect(Array.from(s1.mask.dataSync())).toEqual(Array.from(s2.mask.dataSync()));
    tf.dispose([m1, m2, s1, s2, imgs]);
    const c = new MAE({ ...SMALL, seed: 4 });
    expect(Array.from(c.namedWeights().get('blocks.0.attn.qkv.weight')!.read().dataSync())).not.toEqual(
      Array.from(a.namedWeights().get('blocks.0.attn.qkv.weight')!.read().dataSync()),
    );
    for (const m of [a, b, c]) m.dispose();
  });

  it('rejects bad input before any tensor work, naming the parameter, the value and what was expected', () => {
    expect(() => new MAE({ ...SMALL, maskRatio: 1 })).toThrow(/MAE: maskRatio must be a number in \[0, 1\), got 1/);
    expect(() => new MAE({ ...SMALL, maskRatio: -0.1 })).toThrow(/maskRatio must be a number in \[0, 1\), got -0.1/);
    expect(() => new MAE({ ...SMALL, normPixLoss: true, target: 'pixels' })).toThrow(/normPixLoss true contradicts target 'pixels'/);
    expect(() => new MAE({ ...SMALL, target: 'downsampled', downsampleSize: 3 })).toThrow(/downsampleSize must be a positive integer dividing patchSize 4, got 3/);
    expect(() => new MAE({ ...SMALL, imgSize: 18 })).toThrow(/not divisible by patchSize 4/);
    const mae = new MAE(SMALL);
    const imgs = uniformTensor([2, 16, 16, 3], 1);
    const gray = uniformTensor([2, 16, 16, 1], 1);
    const small = uniformTensor([2, 12, 16, 3], 1);
    const noise = uniformTensor([2, 15], 1);
    expectThrowsEarly(() => mae.forward(imgs, { maskRatio: 1 }), /MAE: options.maskRatio must be a number in \[0, 1\), got 1/);
    expectThrowsEarly(() => mae.forward(imgs, { maskRatio: Number.NaN }), /options.maskRatio must be a number in \[0, 1\), got NaN/);
    expectThrowsEarly(() => mae.forward(gray), /imgs has shape \[2,16,16,1\], expected \[B, 16, 16, 3\] \(imgSize 16x16, inChans 3, NHWC\)/);
    expectThrowsEarly(() => mae.forward(small), /imgs has shape \[2,12,16,3\], expected \[B, 16, 16, 3\]/);
    const rank3 = tf.zeros([16, 16, 3]);
    expectThrowsEarly(() => mae.forward(rank3), /imgs must be a rank-4 tensor \[B, H, W, C\]/);
    expectThrowsEarly(() => mae.forward(imgs, { noise }), /noise shape \[2, 15\] must be \[batchSize, numTokens\] = \[2, 16\]/);
    expectThrowsEarly(() => mae.forward(imgs, { seed: 1, rng: new Rng(1) }), /at most one of noise, seed and rng, got seed and rng/);
    expectThrowsEarly(() => mae.forward(imgs, { maskRatio: 0.99 }), /keeps no token of numTokens 16/);
    const pred = tf.zeros([2, 16, 47]);
    const mask = tf.zeros([2, 16]);
    expectThrowsEarly(() => mae.forwardLoss(imgs, pred, mask), /pred must have shape \[2,16,48\] \(\[B, L, targetDim\]\), got \[2,16,47\]/);
    const ids = tf.zeros([2, 15], 'int32') as tf.Tensor2D;
    const latent = tf.zeros([2, 5, 32]) as tf.Tensor3D;
    expectThrowsEarly(() => mae.forwardDecoder(latent, ids), /idsRestore must be int32 \[B=2, L=16\], got shape \[2,15\]/);
    tf.dispose([imgs, gray, small, rank3, noise, pred, mask, ids, latent]);
    mae.dispose();
  });

  it('mae-encoder converter loads an MAE checkpoint into a VisionTransformer (decoder skipped) with equal features', () => {
    const mae = new MAE(SMALL);
    const sd = exportWeights(mae, { converter: maeConverter });
    const vit = new VisionTransformer({ imgSize: 16, patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, posEmbed: 'sincos', seed: 8 });
    const report = loadWeights(vit, sd, { converter: maeEncoderConverter }); // strict
    expect(report.missing).toEqual([]);
    expect(report.skipped.sort()).toEqual([...sd.keys()].filter((k) => k.startsWith('decoder_') || k === 'mask_token').sort());
    const imgs = uniformTensor([1, 16, 16, 3], 2);
    // With mask ratio 0 every patch is kept (in noise order); the class token output does not depend on the order.
    const enc = mae.forwardEncoder(imgs, { maskRatio: 0, seed: 0 });
    const feats = vit.forward(imgs);
    expectClose(tf.slice(enc.latent, [0, 0, 0], [1, 1, 32]), tf.slice(feats, [0, 0, 0], [1, 1, 32]), 1e-5, 1e-4);
    // A relative-position key (MAE has none) is refused with the position options to set, or reported when not strict.
    sd.set('blocks.0.attn.relative_position_bias_table', tf.zeros([5, 4]));
    expect(() => loadMimWeights(mae, sd, { converter: maeConverter })).toThrow(
      /the checkpoint has blocks.0.attn.relative_position_bias_table, which the model lacks\. Build the model as the checkpoint was trained/,
    );
    const r = loadMimWeights(mae, sd, { converter: maeConverter, strict: false });
    expect(r.unexpected).toEqual(['blocks.0.attn.relative_position_bias_table']);
    tf.dispose([...sd.values(), imgs, enc, feats]);
    mae.dispose();
    vit.dispose();
  });

  it('presets freeze the published sizes', () => {
    expect(maeVitBasePatch16).toMatchObject({ embedDim: 768, depth: 12, numHeads: 12, decoderEmbedDim: 512, decoderDepth: 8, decoderNumHeads: 16 });
    expect(Object.isFrozen(maeVitBasePatch16)).toBe(true);
    const tiny = new MAE({ ...maeMicro, seed: 1 });
    expect(tiny.numPatches).toBe(64);
    expect(tiny.targetDim).toBe(48);
    tiny.dispose();
    expect(maeTiny).toMatchObject({ imgSize: 32, patchSize: 4, embedDim: 192 });
  });
});
