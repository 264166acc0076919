import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SimMIM, simmimTiny, simmimVitBasePatch16, type SimMIMConfig } from '../../src/models/simmim.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { SimMIMMasker } from '../../src/masking/simmim_masker.js';
import { exportWeights, loadWeights } from '../../src/io/state_dict.js';
import { loadMimWeights, saveMimWeights, simmimConverter, simmimEncoderConverter } from '../../src/io/converters_mim.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { relativePositionIndex } from '../../src/layers/rel_pos_bias.js';
import { run as simmimKind } from '../conformance/kinds/simmim.js';
import { checkKind, expectClose, loadCase } from '../layers/helpers.js';
import { expectEveryGradient, expectSameWeights, expectThrowsEarly, train, uniformTensor } from './helpers.js';

const SMALL: SimMIMConfig = { imgSize: 16, patchSize: 4, inChans: 3, embedDim: 32, depth: 2, numHeads: 4, seed: 2 };

/** A fixed [B, 4, 4] patch mask with masked and visible patches in every sample. */
function fixedMask(b: number): tf.Tensor3D {
  const v: number[] = [];
  for (let i = 0; i < b * 16; i++) v.push((i * 7 + Math.floor(i / 16)) % 3 === 0 ? 1 : 0);
  return tf.tensor3d(v, [b, 4, 4]);
}

describe('SimMIM', () => {
  it('reproduces the simmim conformance case (x_rec, loss)', async () => {
    const before = tf.memory().numTensors;
    await checkKind('simmim', simmimKind);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names every weight as SimMIM's state_dict (encoder.*, encoder.mask_token, decoder.0.*)", () => {
    const c = loadCase('simmim');
    // The names depend on the depth and the options, not on the sizes.
    const model = new SimMIM({ ...SMALL, depth: c.config.depth as number, initValues: 0.1 });
    const params = c.params();
    expect([...model.namedWeights().keys()].sort()).toEqual([...params.keys()].sort());
    expect(model.namedLayouts().get('decoder.0.weight')).toEqual({ kind: 'convMatrix', kh: 1, kw: 1, inChannels: 32 });
    expect([...model.namedWeights().values()].every((w) => w.trainable)).toBe(true);
    // Without layer scale and q/v bias the keys disappear (an option that is off costs nothing).
    const plain = new SimMIM({ ...SMALL, initValues: null, qkvBias: 'none' });
    const keys = [...plain.namedWeights().keys()];
    expect(keys.some((k) => /gamma_|q_bias|v_bias/.test(k))).toBe(false);
    tf.dispose([...params.values()]);
    model.dispose();
    plain.dispose();
  });

  it('accepts the mask as [B, h, w] or [B, L] in any 0/1 dtype, and from SimMIMMasker; non-square, 1 channel', () => {
    const model = new SimMIM({ ...SMALL, imgSize: [16, 8], inChans: 1 });
    const x = uniformTensor([2, 16, 8, 1], 3);
    const masker = new SimMIMMasker({ inputSize: [16, 8], maskPatchSize: 8, modelPatchSize: 4, maskRatio: 0.5 });
    const m = masker.mask(2, 7);
    const a = model.forward(x, m.mask);
    const b = model.forward(x, m.maskFlat);
    const asBool = tf.cast(m.mask, 'bool');
    const c = model.forward(x, asBool);
    expect(a.xRec.shape).toEqual([2, 16, 8, 1]);
    expect(a.loss.dataSync()[0]).toBe(b.loss.dataSync()[0]);
    expect(a.loss.dataSync()[0]).toBe(c.loss.dataSync()[0]);
    expectClose(a.xRec, b.xRec, 0, 0);
    // The loss is the mean |x - xRec| over masked pixels, computed here by loops.
    const xs = x.dataSync();
    const rs = a.xRec.dataSync();
    const ms = m.mask.dataSync();
    let num = 0;
    let den = 0;
    for (let bb = 0; bb < 2; bb++) {
      for (let y = 0; y < 16; y++) {
        for (let xx = 0; xx < 8; xx++) {
          const w = ms[bb * 8 + Math.floor(y / 4) * 2 + Math.floor(xx / 4)]!;
          const i = (bb * 16 + y) * 8 + xx;
          num += Math.abs(xs[i]! - rs[i]!) * w;
          den += w;
        }
      }
    }
    expect(a.loss.dataSync()[0]!).toBeCloseTo(num / (den + 1e-5), 5);
    tf.dispose([x, m, a, b, c, asBool]);
    model.dispose();
  });

  it('only masked patches see the mask token; the encoder equals a VisionTransformer when nothing is masked', () => {
    const model = new SimMIM(SMALL);
    const sd = exportWeights(model, { converter: simmimConverter });
    const vit = new VisionTransformer({ imgSize: 16, patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, qkvBias: 'qv', initValues: 0.1, layerScaleNaming: 'beit' });
    const report = loadWeights(vit, sd, { converter: simmimEncoderConverter });
    expect(report.skipped.sort()).toEqual(['decoder.0.bias', 'decoder.0.weight', 'encoder.mask_token']);
    const x = uniformTensor([1, 16, 16, 3], 4);
    const none = tf.zeros([1, 16]);
    const z = model.forwardEncoder(x, none);
    const feats = vit.forward(x);
    expectClose(tf.reshape(z, [1, 16, 32]), tf.slice(feats, [0, 1, 0], [1, 16, 32]), 1e-5, 1e-4);
    // Export back through the encoder converter restores SimMIM's 'encoder.' keys.
    const back = exportWeights(vit, { converter: simmimEncoderConverter });
    expect([...back.keys()].every((k) => k.startsWith('encoder.'))).toBe(true);
    expect(back.size).toBe(sd.size - 3);
    // Masking every patch makes the output independent of the image.
    const all = tf.ones([1, 4, 4]);
    const other = uniformTensor([1, 16, 16, 3], 5);
    expectClose(model.forwardEncoder(x, all), model.forwardEncoder(other, all), 1e-6, 0);
    tf.dispose([...sd.values(), ...back.values(), x, none, z, feats, all, other]);
    model.dispose();
    vit.dispose();
  });

  it('every trainable variable gets a non-zero gradient (mask token, gammas, q/v bias, decoder)', () => {
    const model = new SimMIM(SMALL);
    const x = uniformTensor([2, 16, 16, 3], 6);
    const mask = fixedMask(2);
    const names = expectEveryGradient(model, () => model.forward(x, mask).loss);
    for (const k of ['encoder.mask_token', 'encoder.blocks.0.gamma_1', 'encoder.blocks.1.attn.v_bias', 'decoder.0.weight', 'encoder.pos_embed']) {
      expect(names).toContain(k);
    }
    tf.dispose([x, mask]);
    model.dispose();
  });

  it('trains with AdamW: tensor count flat, loss decreases on a fixed batch and mask', () => {
    const model = new SimMIM({ ...SMALL, dropPathRate: 0 });
    const x = uniformTensor([4, 16, 16, 3], 8);
    const mask = fixedMask(4);
    const before = tf.memory().numTensors;
    const { losses, counts } = train(model, () => model.forward(x, mask, { training: true }).loss, 20, 3e-3);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[19]!).toBeLessThan(0.7 * losses[0]!);
    tf.dispose([x, mask]);
    model.dispose();
  });

  it('is deterministic and initialises as BEiT (trunc-normal tokens, depth-scaled output projections)', () => {
    const a = new SimMIM(SMALL);
    const b = new SimMIM(SMALL);
    expectSameWeights(a, b);
    const x = uniformTensor([2, 16, 16, 3], 9);
    const mask = fixedMask(2);
    const la = a.forward(x, mask);
    const lb = b.forward(x, mask);
    expect(la.loss.dataSync()[0]).toBe(lb.loss.dataSync()[0]);
    const std = (k: string): number => {
      const v = Array.from(a.namedWeights().get(k)!.read().dataSync());
      return Math.sqrt(v.reduce((s, e) => s + e * e, 0) / v.length);
    };
    // trunc_normal(0.02) then / sqrt(2 * layer): layer 2's output projection is ~sqrt(2) smaller than layer 1's.
    expect(std('encoder.blocks.0.mlp.fc1.weight')).toBeGreaterThan(0.015);
    expect(std('encoder.blocks.0.mlp.fc1.weight')).toBeLessThan(0.021);
    const ratio = std('encoder.blocks.0.mlp.fc2.weight') / std('encoder.blocks.1.mlp.fc2.weight');
    expect(ratio).toBeGreaterThan(1.2);
    expect(ratio).toBeLessThan(1.7);
    expect(Array.from(a.namedWeights().get('encoder.blocks.0.gamma_2')!.read().dataSync()).every((v) => Math.abs(v - 0.1) < 1e-7)).toBe(true);
    tf.dispose([x, mask, la, lb]);
    a.dispose();
    b.dispose();
  });

  it('rejects bad input before any tensor work, naming the parameter, the value and what was expected', () => {
    const model = new SimMIM(SMALL);
    const x = uniformTensor([2, 16, 16, 3], 1);
    const gray = uniformTensor([2, 16, 16, 1], 1);
    const mask = fixedMask(2);
    const wrongGrid = tf.zeros([2, 8, 8]);
    const wrongBatch = tf.zeros([3, 16]);
    const half = tf.fill([2, 16], 0.5);
    expectThrowsEarly(() => model.forward(gray, mask), /SimMIM: x has shape \[2,16,16,1\], expected \[B, 16, 16, 3\] \(imgSize 16x16, inChans 3, NHWC\)/);
    expectThrowsEarly(() => model.forward(x, wrongGrid), /SimMIM: mask has shape \[2,8,8\], expected \[B=2, L=16\] or \[B=2, 4, 4\]/);
    expectThrowsEarly(() => model.forward(x, wrongBatch), /mask has shape \[3,16\], expected \[B=2, L=16\]/);
    expectThrowsEarly(() => model.forward(x, half), /mask must hold only 0 and 1 \(1 = masked\), got 0.5 at flat index 0/);
    expect(() => new SimMIM({ ...SMALL, imgSize: 18 })).toThrow(/not divisible by patchSize 4/);
    expect(() => new SimMIM({ ...SMALL, numHeads: 5 })).toThrow(/embedDim 32 is not divisible by numHeads 5/);
    tf.dispose([x, gray, mask, wrongGrid, wrongBatch, half]);
    model.dispose();
  });

  it("SimMIM's released form (shared relative position bias, no pos_embed): names, training, round trip through saveMimWeights, encoder converter; presets", () => {
    const cfg: SimMIMConfig = { ...SMALL, imgSize: [8, 16], useAbsPosEmb: false, useSharedRelPosBias: true };
    const model = new SimMIM(cfg);
    const keys = [...model.namedWeights().keys()];
    expect(keys).toContain('encoder.rel_pos_bias.relative_position_bias_table');
    expect(keys).not.toContain('encoder.pos_embed');
    expect(model.namedWeights().get('encoder.rel_pos_bias.relative_position_bias_table')!.shape).toEqual([(2 * 2 - 1) * (2 * 4 - 1) + 3, 4]);
    const x = uniformTensor([2, 8, 16, 3], 4);
    const mask = tf.tensor2d([[1, 0, 0, 1, 0, 1, 1, 0], [0, 1, 1, 0, 0, 0, 1, 1]]);
    const names = expectEveryGradient(model, () => model.forward(x, mask).loss);
    expect(names).toContain('encoder.rel_pos_bias.relative_position_bias_table');
    const before = tf.memory().numTensors;
    const { losses, counts } = train(model, () => model.forward(x, mask, { training: true }).loss, 8, 3e-3);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[7]!).toBeLessThan(losses[0]!);
    // The file holds the I64 relative_position_index buffer under SimMIM's key; it loads back (checked) into a fresh model.
    const bytes = saveMimWeights(model, { converter: simmimConverter });
    const file = parseSafetensors(bytes);
    expect(file.info('encoder.rel_pos_bias.relative_position_index')).toMatchObject({ dtype: 'I64', shape: [9, 9] });
    expect(Array.from(file.int32('encoder.rel_pos_bias.relative_position_index'))).toEqual(Array.from(relativePositionIndex([2, 4])));
    const other = new SimMIM({ ...cfg, seed: 9 });
    const report = loadMimWeights(other, bytes, { converter: simmimConverter });
    expect(report.skipped).toEqual(['encoder.rel_pos_bias.relative_position_index']);
    expectSameWeights(model, other);
    // The encoder alone: 'encoder.' stripped, the buffer checked and skipped, equal features.
    const vit = new VisionTransformer({
      imgSize: [8, 16], patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, qkvBias: 'qv', initValues: 0.1,
      layerScaleNaming: 'beit', posEmbed: 'none', useSharedRelPosBias: true,
    });
    const r2 = loadMimWeights(vit, bytes, { converter: simmimEncoderConverter });
    expect(r2.missing).toEqual([]);
    expect(r2.skipped).toContain('encoder.rel_pos_bias.relative_position_index');
    const none = tf.zeros([1, 8]);
    const x1 = tf.slice(x, [0, 0, 0, 0], [1, 8, 16, 3]);
    const z = model.forwardEncoder(x1, none);
    const f = vit.forward(x1);
    expectClose(tf.reshape(z, [1, 8, 32]), tf.slice(f, [0, 1, 0], [1, 8, 32]), 1e-5, 1e-4);
    // A model built with the absolute table instead is told what to change.
    const absolute = new SimMIM({ ...SMALL, imgSize: [8, 16] });
    expect(() => loadMimWeights(absolute, bytes, { converter: simmimConverter })).toThrow(
      /the checkpoint has encoder.rel_pos_bias.relative_position_bias_table, encoder.rel_pos_bias.relative_position_index, which the model lacks; the model has encoder.pos_embed, which the checkpoint lacks\. Build the model as the checkpoint was trained: .*useSharedRelPosBias: true, useAbsPosEmb: false/,
    );
    tf.dispose([x, mask, none, x1, z, f]);
    for (const m of [model, other, vit, absolute]) m.dispose();
    expect(simmimVitBasePatch16).toMatchObject({
      embedDim: 768, depth: 12, numHeads: 12, patchSize: 16, initValues: 0.1, useAbsPosEmb: false, useSharedRelPosBias: true,
    });
    expect(simmimTiny).toMatchObject({ imgSize: 32, patchSize: 4 });
    const defaults = new SimMIM(SMALL);
    expect(defaults.config).toMatchObject({ useAbsPosEmb: true, useRelPosBias: false, useSharedRelPosBias: false });
    defaults.dispose();
  });
});
